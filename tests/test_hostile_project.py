"""A project folder from someone else (issue 14 items 1, 6, 7): crafted trash manifests, undo snapshots and
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
    from support.train import make_train_project

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
