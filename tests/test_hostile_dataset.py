"""A shared project's dataset (issue 14 items 12, 13, 10): links that point outside, half-written
states, logs linked elsewhere and escape sequences in captions never reach outside the project."""

from __future__ import annotations

import json
import os
import stat

import pytest
from _hostile import make_outside, one_sentence, tree_state

from tui_lora.core.dataset import undo


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

    from support.train import make_train_project

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
