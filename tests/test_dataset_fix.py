"""check --fix and the trash: every fix is undone exactly by restore; nothing is ever lost."""

from __future__ import annotations

import json

from PIL import Image

from _dataset_helpers import make_bad_dataset, save, snapshot, textured
from tui_lora.core.dataset import trash
from tui_lora.core.dataset.captions import replace_tag
from tui_lora.core.dataset.checks import Problem
from tui_lora.core.dataset.fix import fix_records
from tui_lora.core.dataset.records import Limits
from tui_lora.core.dataset.scan import scan_folder

LIMITS = Limits(family="sd15", resolution=96)


def test_fix_then_restore_round_trips_byte_for_byte(tmp_path):
    ds = tmp_path / "dataset"
    make_bad_dataset(ds)
    before = snapshot(ds)
    report = scan_folder(ds, tmp_path / ".cache", LIMITS)
    fixed = fix_records(ds, report.records)
    actions = {r.path.name: r.action for r in fixed.results}
    assert actions["moving.gif"] == "converted"
    for name in ("empty.png", "page.jpg", "truncated.png", "truncated.jpg", "bomb.png", "orphan.txt"):
        assert actions[name] == "trashed", name
    for name in ("alpha.png", "anim.webp", "cmyk.jpg", "palette.png", "grey alpha.png", "rotated.jpg",
                 "latin1.png", "bom.png"):
        assert actions[name] == "fixed", name

    after = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert not [r.rel for r in after.records if r.fixable]
    c = ds / "10_mia ünï"
    assert (c / "alpha.txt").read_text(encoding="utf-8") == "ohwx, white background, simple background, smile"
    with Image.open(c / "alpha.png") as im:
        assert im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255)
    with Image.open(c / "rotated.jpg") as im:
        assert im.size == (144, 96) and im.getexif().get(0x0112, 1) == 1
    with Image.open(c / "anim.webp") as im:
        assert getattr(im, "n_frames", 1) == 1
    with Image.open(c / "moving.png") as im:
        assert im.format == "PNG" and im.mode == "RGB"
    assert not (c / "moving.gif").exists() and (c / "moving.txt").exists()
    with Image.open(c / "cmyk.jpg") as im:
        assert im.mode == "RGB"
    assert (c / "latin1.txt").read_bytes() == "ohwx, café, smile".encode("utf-8")
    assert (c / "bom.txt").read_bytes() == b"ohwx, smile"

    results = trash.restore_entries(ds, trash.list_entries(ds))
    assert results and not any(r.renamed or r.missing for r in results)
    assert snapshot(ds) == before
    assert not any((ds / ".trash").iterdir())


def test_manifest_is_written_and_names_the_origin(tmp_path):
    ds = tmp_path / "dataset"
    img = save(textured(1), ds / "5_a b" / "pic ü.png", "ohwx, smile")
    [entry] = trash.trash_files(ds, [img], reason="removed")
    data = json.loads((entry.folder / trash.MANIFEST).read_text(encoding="utf-8"))
    assert data["reason"] == "removed"
    assert [f["original"] for f in data["files"]] == ["5_a b/pic ü.png", "5_a b/pic ü.txt"]
    assert not img.exists() and not img.with_suffix(".txt").exists()
    assert trash.list_entries(ds)[0].name == "pic ü.png"


def test_same_name_from_different_folders_restores_to_each_folder(tmp_path):
    ds = tmp_path / "dataset"
    a = save(textured(1), ds / "5_a" / "1.png", "a")
    b = save(textured(2), ds / "3_b" / "1.png", "b")
    before = snapshot(ds)
    trash.trash_files(ds, [a, b], reason="removed")
    # the same file trashed twice
    a2 = save(textured(3), ds / "5_a" / "1.png", "a again")
    trash.trash_files(ds, [a2], reason="removed")
    entries = trash.list_entries(ds)
    assert len(entries) == 3
    matched, unmatched = trash.match_entries(entries, ["3_b/1.png"])
    assert len(matched) == 1 and not unmatched
    trash.restore_entries(ds, matched)
    assert (ds / "3_b" / "1.txt").read_text() == "b"
    res = trash.restore_entries(ds, trash.list_entries(ds))
    # newest first: "a again" takes 1.png back; the older 1.png finds it taken and gets a new name
    assert (ds / "5_a" / "1.txt").read_text() == "a again"
    assert [r.renamed for r in res] == [False, True]
    assert snapshot(ds)["5_a/1 (restored).png"] == before["5_a/1.png"]
    assert (ds / "5_a" / "1 (restored).txt").read_text() == "a"


def test_restore_keeps_an_edited_fix_and_the_shared_caption(tmp_path):
    ds = tmp_path / "dataset"
    rgba = textured(1).convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    save(rgba, ds / "5_a" / "x.png", "ohwx, transparent background")
    before = snapshot(ds)
    report = scan_folder(ds, tmp_path / ".cache", LIMITS)
    fix_records(ds, report.records)
    (ds / "5_a" / "x.txt").write_text("ohwx, edited by hand", encoding="utf-8")  # the user tags after fixing
    [res] = trash.restore_entries(ds, trash.list_entries(ds))
    assert snapshot(ds) == before
    assert len(res.set_aside) == 1  # the hand edit is in the trash, not gone
    [aside] = trash.list_entries(ds)
    assert (aside.folder / "x.txt").read_text(encoding="utf-8") == "ohwx, edited by hand"


def test_trashing_one_of_two_same_name_images_leaves_the_caption(tmp_path):
    ds = tmp_path / "dataset"
    save(textured(1), ds / "5_a" / "1.png", "shared")
    jpg = save(textured(1), ds / "5_a" / "1.jpg", format="JPEG")
    [entry] = trash.trash_files(ds, [jpg], reason="duplicate")
    assert (ds / "5_a" / "1.txt").read_text() == "shared"
    assert [f.copied for f in entry.files] == [False, True]
    trash.restore_entries(ds, [entry])
    assert (ds / "5_a" / "1.jpg").exists() and (ds / "5_a" / "1.txt").read_text() == "shared"


def test_restore_reports_files_missing_from_the_trash(tmp_path):
    ds = tmp_path / "dataset"
    img = save(textured(1), ds / "5_a" / "1.png", "cap")
    [entry] = trash.trash_files(ds, [img], reason="removed")
    (entry.folder / "1.txt").unlink()  # someone deleted part of the trash by hand
    [res] = trash.restore_entries(ds, [entry])
    assert res.missing == ["5_a/1.txt"] and (ds / "5_a" / "1.png").exists()
    assert (entry.folder / trash.MANIFEST).exists()  # kept: it still explains what happened


def test_fix_skips_a_conversion_that_would_overwrite(tmp_path):
    ds = tmp_path / "dataset"
    save(textured(1), ds / "5_a" / "1.gif", "cap")
    save(textured(2), ds / "5_a" / "1.png")
    report = scan_folder(ds, tmp_path / ".cache", LIMITS)
    fixed = fix_records(ds, [r for r in report.records if r.has(Problem.UNSUPPORTED)])
    assert fixed.results[0].action == "skipped" and "1.png already exists" in fixed.results[0].message


def test_replace_tag_keeps_order_and_drops_repeats():
    white = ["white background", "simple background"]
    assert replace_tag(["a", "transparent background", "b"], "transparent background", white) == [
        "a", "white background", "simple background", "b"]
    assert replace_tag(["white background", "transparent_background"], "transparent background", white) == white
    assert replace_tag(["a", "b"], "transparent background", ["x"]) == ["a", "b"]


def test_fix_given_paths_fixes_only_those(make_project):
    from tui_lora.core.dataset.fix import fix

    project = make_project(images=0)
    c = project.concepts()[0].path
    for name in ("a.png", "b.png"):
        rgba = textured(1, (96, 96)).convert("RGBA")
        rgba.putpixel((0, 0), (0, 0, 0, 0))
        save(rgba, c / name, "ohwx")
    report = fix(project, [c / "b.png"])
    assert [(r.path.name, r.action) for r in report.results] == [("b.png", "fixed")]
    with Image.open(c / "a.png") as a, Image.open(c / "b.png") as b:
        assert a.mode == "RGBA" and b.mode == "RGB"
