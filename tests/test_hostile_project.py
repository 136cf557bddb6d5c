"""A project folder from someone else (issue 14): crafted trash manifests, undo snapshots, links and
settings never reach outside the project; each refusal is one sentence (CLI exit 2, no traceback)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from _hostile import make_outside, one_sentence, tree_state

from tui_lora.core.dataset import trash, undo


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def craft_entry(project, folder_name: str, files: list[dict], blobs: dict[str, bytes]) -> Path:
    folder = project.dataset_dir / ".trash" / folder_name
    folder.mkdir(parents=True)
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    manifest = {"id": folder_name, "time": 1.0, "reason": "crafted", "files": files}
    (folder / "entry.json").write_text(json.dumps(manifest))
    return folder


# ----- item 1: restore follows only paths inside its own area -----------------------------------------
def test_restore_refuses_crafted_entries_and_restores_the_rest(make_project, tmp_path, run_cli):
    project = make_project(images=3)
    outside = make_outside(tmp_path)
    concept = project.concepts()[0].path
    (project.dataset_dir / "10_link").symlink_to(outside)  # a concept folder that is a link out
    victim = (outside / "victim.txt").read_bytes()
    blob = b"planted by a crafted project"
    craft_entry(project, "20990101-000000-aaaaaa", [  # writes a new file outside
        {"original": "../../outside/planted.txt", "stored": "x.txt", "sha256": sha(blob)}], {"x.txt": blob})
    craft_entry(project, "20990101-000000-bbbbbb", [  # moves an outside file into the trash (set aside)
        {"original": "../../outside/victim.txt", "stored": "y.txt", "sha256": sha(blob)}], {"y.txt": blob})
    craft_entry(project, "20990101-000000-cccccc", [  # deletes an outside file whose hash it knows
        {"original": f"{concept.name}/gone.png", "stored": "z.png", "sha256": sha(blob),
         "replacement": "../../outside/victim.txt", "replacement_sha256": sha(victim)}], {"z.png": blob})
    craft_entry(project, "20990101-000000-dddddd", [  # moves an outside file into the dataset
        {"original": f"{concept.name}/stolen.png", "stored": "../../../../outside/keys/id", "sha256": "0"}], {})
    craft_entry(project, "20990101-000000-eeeeee", [  # writes through a linked folder
        {"original": "10_link/through.txt", "stored": "w.txt", "sha256": sha(blob)}], {"w.txt": blob})
    absolute = craft_entry(project, "20990101-000000-ffffff", [
        {"original": str(outside / "abs.txt"), "stored": "v.txt", "sha256": sha(blob)}], {"v.txt": blob})
    linked_blob = craft_entry(project, "20990101-000000-gggggg", [  # the stored "file" is a link out
        {"original": f"{concept.name}/copied.txt", "stored": "u.txt", "sha256": sha(victim)}], {})
    (linked_blob / "u.txt").symlink_to(outside / "victim.txt")
    honest_image = concept / sorted(p.name for p in concept.glob("*.png"))[0]
    honest = trash.trash_files(project.dataset_dir, [honest_image], reason="removed")[0]
    before = tree_state(outside)

    res = run_cli("restore", project.root, "--all")
    assert res.returncode == 2, res.stderr
    err = one_sentence(res.stderr)
    assert "7 trash entries were not restored" in err
    assert tree_state(outside) == before
    assert honest_image.exists() and not honest.folder.exists()  # the honest entry came back
    for name in ("aaaaaa", "bbbbbb", "cccccc", "dddddd", "eeeeee", "ffffff", "gggggg"):
        assert f"20990101-000000-{name} was not restored because" in res.stdout
    assert absolute.exists() and not (concept / "stolen.png").exists() and not (concept / "copied.txt").exists()
    assert "Traceback" not in res.stdout


def test_one_refused_entry_is_the_error_sentence(make_project, tmp_path, run_cli):
    project = make_project(images=1)
    outside = make_outside(tmp_path)
    blob = b"x"
    craft_entry(project, "evil", [{"original": "../../outside/new.txt", "stored": "a", "sha256": sha(blob)}],
                {"a": blob})
    before = tree_state(outside)
    res = run_cli("restore", project.root, "evil")
    assert res.returncode == 2
    err = one_sentence(res.stderr)
    assert err.startswith("The trash entry evil was not restored because its original path") and "delete" in err
    assert tree_state(outside) == before
    data = json.loads(run_cli("restore", project.root, "--all", "--json").stdout)
    assert data["refused"][0]["id"] == "evil" and data["error"]


def test_a_linked_trash_folder_is_refused(make_project, tmp_path):
    project = make_project(images=1)
    outside = make_outside(tmp_path)
    trash_root = project.dataset_dir / ".trash"
    trash_root.rmdir()
    trash_root.symlink_to(outside)
    before = tree_state(outside)
    image = project.concepts()[0].images()[0]
    from tui_lora.core.errors import UserError

    with pytest.raises(UserError, match="is a symbolic link"):
        trash.trash_files(project.dataset_dir, [image], reason="removed")
    assert image.exists() and tree_state(outside) == before
    assert trash.list_entries(project.dataset_dir) == []


# ----- item 1: undo snapshots --------------------------------------------------------------------------
def craft_snapshot(project, n: int, files: list[dict], blobs: dict[str, bytes], complete: bool = True) -> Path:
    folder = undo.history_dir(project.root) / f"{n:06d}-remove"
    folder.mkdir(parents=True)
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps({"id": n, "op": "remove", "time": 1.0, "details": {},
                                                      "files": files, "complete": complete}))
    return folder


@pytest.mark.parametrize("files, blobs", [
    # deletes an outside file (the operation "created" it)
    ([{"path": "../outside/victim.txt", "blob": None, "before": None, "after": "x", "mode": None}], {}),
    # plants a setuid file outside
    ([{"path": "../outside/planted", "blob": "0.bin", "before": sha(b"#!/bin/sh\n"), "after": None,
       "mode": 0o4777}], {"0.bin": b"#!/bin/sh\n"}),
    # writes through a linked folder inside the project
    ([{"path": "dataset/10_link/victim.txt", "blob": "0.bin", "before": sha(b"x"), "after": None, "mode": 0o644}],
     {"0.bin": b"x"}),
    # an absolute path
    ([{"path": "/tmp/x", "blob": None, "before": None, "after": None, "mode": None}], {}),
])
def test_undo_refuses_a_crafted_snapshot(make_project, tmp_path, run_cli, files, blobs):
    project = make_project(images=1)
    outside = make_outside(tmp_path)
    (project.dataset_dir / "10_link").symlink_to(outside)
    # the project lives at tmp_path/proj, so "../outside" from the project root is the outside folder
    craft_snapshot(project, 7, files, blobs)
    before = tree_state(outside)
    res = run_cli("tags", project.root, "--undo")
    assert res.returncode == 2
    err = one_sentence(res.stderr)
    assert "The undo snapshot 000007-remove was not used because" in err
    assert tree_state(outside) == before
    assert not Path("/tmp/x").exists() or files[0]["path"] != "/tmp/x"


def test_undo_blob_that_is_a_link_out_is_refused(make_project, tmp_path):
    project = make_project(images=1)
    outside = make_outside(tmp_path)
    cap = project.concepts()[0].images()[0].with_suffix(".txt")
    folder = craft_snapshot(project, 3, [{"path": cap.relative_to(project.root).as_posix(), "blob": "0.bin",
                                          "before": sha(b"secret key bytes"), "after": sha(cap.read_bytes()),
                                          "mode": 0o644}], {})
    (folder / "0.bin").symlink_to(outside / "keys" / "id")  # would copy a secret into the caption
    from tui_lora.core.errors import UserError

    with pytest.raises(UserError, match="blob '0.bin' is not a regular file"):
        undo.undo(project.root)
    assert b"secret" not in cap.read_bytes()


def test_undo_keeps_only_permission_bits(make_project):
    project = make_project(images=1)
    cap = project.concepts()[0].images()[0].with_suffix(".txt")
    old = b"old caption"
    craft_snapshot(project, 4, [{"path": cap.relative_to(project.root).as_posix(), "blob": "0.bin",
                                 "before": sha(old), "after": sha(cap.read_bytes()), "mode": 0o6777}],
                   {"0.bin": old})
    undo.undo(project.root)
    mode = os.stat(cap).st_mode
    assert cap.read_bytes() == old and not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert stat.S_IMODE(mode) == 0o777


# ----- item 6: settings that reach the file system --------------------------------------------------------
def set_in_toml(project, section: str, key: str, value: str) -> None:
    import tomlkit

    doc = tomlkit.parse(project.toml_path.read_text())
    doc[section][key] = value
    project.toml_path.write_text(tomlkit.dumps(doc))


@pytest.mark.parametrize("key, value, words", [
    ("output.output_name", "../../../x",
     "output.output_name = '../../../x' is not allowed; it must be a plain file name"),
    ("output.output_name", "  ", "it is blank"),
    ("output.output_name", "a\x1bb", "without control characters"),
    ("dataset.caption_extension", ".png", ".png is used for other files"),
    ("dataset.caption_extension", ".JPG", ".jpg is used for other files"),
    ("dataset.caption_extension", "/../x", "it must be a dot and letters or digits"),
    ("dataset.caption_extension", ".t/x", "it must be a dot and letters or digits"),
])
def test_file_system_settings_are_checked(make_project, tmp_path, run_cli, key, value, words):
    project = make_project(images=1)
    outside = make_outside(tmp_path)
    before = tree_state(outside)
    set_in_toml(project, *key.split("."), value)
    for args in (("steps", project.root), ("fetch", project.root, "--tags", "x", "--base-url", "http://127.0.0.1:9")):
        res = run_cli(*args)
        assert res.returncode == 2
        assert words in one_sentence(res.stderr)
    assert tree_state(outside) == before
    set_in_toml(project, *key.split("."), "ok" if key == "output.output_name" else ".txt")
    if value.strip() == value:  # --set strips its value ("  " is the default, the project name)
        res = run_cli("train", project.root, "--set", f"{key}={value}")
        assert res.returncode == 2 and words.split(" is not allowed")[-1] in one_sentence(res.stderr)


def test_honest_names_and_extensions_still_work(make_project):
    project = make_project(images=1)
    for dotted, value in (("output.output_name", "mia v2.1 (final)"), ("dataset.caption_extension", ".caption"),
                          ("dataset.caption_extension", "txt"), ("dataset.caption_extension", ""),
                          ("output.output_name", "")):
        project.set(dotted, value)
    assert project.output_name == "proj"


def test_set_keys_that_training_ignores_are_refused(make_project, run_cli):
    project = make_project(images=1)
    for key in ("tags.threshold=0.5", "project.subject=style", "project.preset=sd15-style"):
        res = run_cli("train", project.root, "--set", key)
        assert res.returncode == 2
        assert "does not change training" in one_sentence(res.stderr)
    res = run_cli("train", project.root, "--set", "sample.nothing=1")
    assert res.returncode == 2 and "`tui-lora keys`" not in res.stderr
    assert "[sample] has prompts, prompt_file" in one_sentence(res.stderr)


@pytest.mark.slow
def test_set_output_name_is_honoured_by_train(tmp_path, tiny_sd15, run_cli):
    from tui_lora.testing.train import make_train_project

    project = make_train_project(tmp_path / "p", tiny_sd15, images=2)
    res = run_cli("train", project.root, "--device", "cpu", "--json", "--set", "output.output_name=custom")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["path"] == str(project.output_dir / "custom.safetensors")
    assert (project.output_dir / "custom.safetensors").is_file() and not project.final_file().exists()


# ----- item 7: repeats ------------------------------------------------------------------------------
@pytest.mark.parametrize("repeats", ["1000000000", "9" * 20, "0"])
def test_repeats_are_bounded_in_one_sentence(make_project, run_cli, repeats):
    project = make_project(images=2)
    concept = project.concepts()[0].path
    concept.rename(concept.with_name(f"{repeats}_big"))
    res = run_cli("steps", project.root, timeout=60)
    assert res.returncode == 2
    err = one_sentence(res.stderr)
    assert f"The folder dataset/{repeats}_big" in err or "digits" in err
    assert "1 to 1000" in err
    res = run_cli("fetch", project.root, "--tags", "x", "--folder", f"{repeats}_new", "--base-url", "http://127.0.0.1:9")
    assert res.returncode == 2 and "1 to 1000" in one_sentence(res.stderr)
    res = run_cli("steps", "--images", "10", "--repeats", "1000000000")
    assert res.returncode == 2 and "1 to 1000" in one_sentence(res.stderr)


def test_the_plan_counts_samples_without_listing_them():
    from tui_lora.core.dataset.buckets import bucket_sample_counts

    assert bucket_sample_counts([(512, 512), (512, 768), (512, 512)], [10**12, 3, 10**12]) == (2 * 10**12, 3)


# ----- item 12: links in the dataset --------------------------------------------------------------
def linked_dataset(make_project, tmp_path):
    """A dataset whose links point outside: an exact copy of a real image (larger file, so it would be
    the keeper), a transparent image (fixable), an image with a linked caption."""
    from _dataset_helpers import save, textured
    from PIL import Image

    project = make_project(images=0)
    outside = make_outside(tmp_path)
    concept = project.concepts()[0].path
    real = save(textured(1, (640, 640)), concept / "real.png", caption="ohwx, real")
    (outside / "copy.png").write_bytes(real.read_bytes())
    (concept / "link.png").symlink_to(outside / "copy.png")
    Image.new("RGBA", (640, 640), (10, 20, 30, 0)).save(outside / "alpha.png")
    (concept / "alpha.png").symlink_to(outside / "alpha.png")
    save(textured(2, (640, 640)), concept / "capped.png")
    (concept / "capped.txt").symlink_to(outside / "victim.txt")
    return project, outside, concept


def test_links_are_reported_and_left_alone_by_every_destructive_command(make_project, tmp_path, run_cli):
    project, outside, concept = linked_dataset(make_project, tmp_path)
    before = tree_state(outside)
    res = run_cli("check", project.root, "--json")
    records = {r["rel"].split("/")[-1]: r for r in json.loads(res.stdout)["files"]}
    for name in ("link.png", "alpha.png", "capped.png"):
        assert "link" in [i["code"] for i in records[name]["issues"]], name
    assert "link" not in [i["code"] for i in records.get("real.png", {"issues": []})["issues"]]

    for args in (("check", "--fix"), ("dedupe", "--apply"), ("crop",), ("crop", "alpha.png")):
        res = run_cli(args[0], project.root, *args[1:])
        assert res.returncode in (0, 1) and "Traceback" not in res.stderr and "Unexpected" not in res.stderr, res.stderr
        assert tree_state(outside) == before, args
        for name in ("link.png", "alpha.png", "capped.txt"):
            assert (concept / name).is_symlink(), (args, name)
        assert (concept / "real.png").exists(), args  # never trashed in favour of the linked copy
    assert not [p for p in (project.dataset_dir / ".trash").rglob("*") if p.is_dir() and not any(p.iterdir())]

    res = run_cli("tags", project.root, "--remove", "precious,real")  # "precious" is the linked caption's tag
    assert res.returncode == 2 and "symbolic link" in one_sentence(res.stderr)
    assert (concept / "real.txt").read_text() == "ohwx, real" and tree_state(outside) == before


def test_a_linked_caption_is_never_replaced_by_fetch(make_project, tmp_path, run_cli):
    from hostile_server import HostileServer, json_body, md5, png_bytes, raw

    project = make_project(images=0)
    outside = make_outside(tmp_path)
    concept = project.concepts()[0].path
    (concept / "safebooru_1.txt").symlink_to(outside / "victim.txt")
    before = tree_state(outside)
    data = png_bytes()
    with HostileServer() as srv:
        srv.answer("/index.php", json_body({"post": [{"id": 1, "file_url": f"{srv.url}/1.png", "md5": md5(data),
                                                      "image": "1.png", "tags": "a b"}]}))
        srv.answer("/1.png", raw(data))
        res = run_cli("fetch", project.root, "--tags=x", "--base-url", srv.url, "--yes")
    assert res.returncode == 0, res.stderr
    assert (concept / "safebooru_1.png").exists() and (concept / "safebooru_1.txt").is_symlink()
    assert tree_state(outside) == before


# ----- item 13: leftovers and half states ------------------------------------------------------------
def test_undo_after_a_killed_bulk_edit_keeps_a_hand_edit(make_project):
    from tui_lora.core.errors import UserError

    project = make_project(images=3)
    caps = sorted(project.concepts()[0].path.glob("*.txt"))
    planned = {p: p.read_bytes() + b", new" for p in caps}
    undo.Snapshot.begin(project.root, "add", list(planned), {}, planned=planned)
    caps[0].write_bytes(planned[caps[0]])  # the operation wrote one file, then was killed
    caps[1].write_bytes(b"edited by hand later")
    with pytest.raises(UserError, match="changed after the add operation \\(which was interrupted\\)"):
        undo.undo(project.root)
    assert caps[1].read_bytes() == b"edited by hand later"
    undo.undo(project.root, force=True)
    assert all(not p.read_bytes().endswith(b", new") for p in caps)


def test_crop_and_save_keep_file_modes_and_crop_reports_a_bomb(make_project, run_cli):
    from _dataset_helpers import bomb_png, save, textured

    project = make_project(images=0)
    concept = project.concepts()[0].path
    img = save(textured(3, (300, 200)), concept / "a.png")
    os.chmod(img, 0o664)
    os.chmod(project.toml_path, 0o664)
    (concept / "bomb.png").write_bytes(bomb_png(12000))
    res = run_cli("crop", project.root)
    assert res.returncode == 0, res.stderr
    assert "DecompressionBombWarning" not in res.stderr + res.stdout and "too large" in res.stdout
    assert stat.S_IMODE(img.stat().st_mode) == 0o664
    from tui_lora.core.project import Project

    p = Project.load(project.root)
    p.set("training.seed", 7)
    p.save()
    assert stat.S_IMODE(project.toml_path.stat().st_mode) == 0o664


@pytest.mark.slow
def test_half_written_checkpoints_are_cleaned_and_a_full_disk_says_what_is_kept(tmp_path, tiny_sd15):
    import resource
    import subprocess
    import sys

    from conftest import cli_env

    from tui_lora.testing.train import make_train_project

    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={"training.max_train_epochs": 2})
    leftover = project.state_dir / ".checkpoint-00000001.pt.x1y2z3.tmp"
    leftover.write_bytes(b"half a checkpoint")
    cmd = [sys.executable, "-m", "tui_lora", "train", str(project.root), "--device", "cpu", "--restart"]
    env = {**cli_env(), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not leftover.exists()
    lora = project.epoch_file(1).stat().st_size

    def small_files() -> None:  # a checkpoint (LoRA + optimizer moments) no longer fits; the LoRA does
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(lora * 1.5), int(lora * 1.5)))

    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, preexec_fn=small_files)
    assert res.returncode == 2, res.stderr[-2000:]
    err = res.stderr.strip().splitlines()[-1]
    assert "Cannot write the training state" in err and "no state had been saved yet" in err
    assert "the last state is kept" not in res.stderr and "Traceback" not in res.stderr


def test_a_log_linked_outside_is_not_written_through(make_project, tmp_path):
    from tui_lora.core.errors import UserError
    from tui_lora.core.events import EventWriter

    project = make_project(images=0)
    outside = make_outside(tmp_path)
    project.events_path.symlink_to(outside / "victim.txt")
    before = tree_state(outside)
    with pytest.raises(UserError, match="is a symbolic link, so tui-lora will not write its log through it"):
        EventWriter(project.events_path).emit("warning", message="x")
    assert tree_state(outside) == before


def test_the_tags_table_prints_no_escape_sequences(make_project, run_cli):
    project = make_project(images=1)
    cap = project.concepts()[0].images()[0].with_suffix(".txt")
    cap.write_text("ohwx, \x1b]0;pwned\x07title, \x1b[2Jclear, \u202eevil", encoding="utf-8")
    res = run_cli("tags", project.root)
    assert res.returncode == 0 and "\x1b" not in res.stdout and "\u202e" not in res.stdout
    assert "[2Jclear" in res.stdout and "evil" in res.stdout
    res = run_cli("tags", project.root, "--find", "evil")
    assert res.returncode == 0 and "\u202e" not in res.stdout
