"""The dataset scan: every bad-file kind reported, nothing crashes it, the cache and cancelling."""

from __future__ import annotations

import os
import threading

import pytest

from _dataset_helpers import EXPECTED, make_bad_dataset, save, textured
from tui_lora.core.dataset.checks import PROBLEMS, Problem, Severity
from tui_lora.core.dataset.records import Limits
from tui_lora.core.dataset.scan import scan_folder

LIMITS = Limits(family="sd15", resolution=96)


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad project")
    make_bad_dataset(root / "dataset")
    return root


@pytest.fixture(scope="module")
def bad_report(bad_dataset):
    return scan_folder(bad_dataset / "dataset", bad_dataset / ".cache", LIMITS)


def test_every_problem_kind_is_described():
    for p in Problem:
        info = PROBLEMS[p]
        assert info.title and info.advice and isinstance(info.severity, Severity)


def test_every_bad_file_kind_is_reported_and_nothing_else(bad_report):
    found = {r.rel: {i.code.value for i in r.issues} for r in bad_report.records}
    assert set(found) == set(EXPECTED)
    for rel, codes in EXPECTED.items():
        assert found[rel] == codes, rel
    assert {p.value for p in bad_report.counts()} == {c for codes in EXPECTED.values() for c in codes}
    # every code the scan knows is exercised by the fixture, except a file it cannot read and links
    # (test_hostile_project.py builds those, pointing outside the project)
    assert {p.value for p in Problem} - {c for codes in EXPECTED.values() for c in codes} == {"unreadable", "link"}


def test_details_name_the_problem(bad_report):
    def detail(rel, code):
        rec = next(r for r in bad_report.records if r.rel == rel)
        return next(i for i in rec.issues if i.code.value == code).describe()

    assert "HTML page" in detail("10_mia ünï/page.jpg", "not_image")
    assert "truncated" in detail("10_mia ünï/truncated.png", "corrupt")
    bomb = detail("10_mia ünï/bomb.png", "too_large")
    assert "400 megapixels" in bomb and "89-megapixel" in bomb
    assert "4.0:1" in detail("10_mia ünï/wide.png", "extreme_aspect")
    assert "cp1252" in detail("10_mia ünï/latin1.png", "caption_encoding")
    assert "byte-order mark" in detail("10_mia ünï/bom.png", "caption_encoding")
    assert "CMYK" in detail("10_mia ünï/cmyk.jpg", "color_mode")
    assert "3 frames" in detail("10_mia ünï/anim.webp", "animated")


def test_facts_of_readable_images(bad_report):
    rec = {r.rel: r for r in bad_report.records}
    rot = rec["10_mia ünï/rotated.jpg"]
    assert (rot.width, rot.height) == (144, 96)  # as displayed: the EXIF rotation swaps the sides
    assert rec["10_mia ünï/good one.png"].caption.name == "good one.txt"
    assert rec["10_mia ünï/alpha.png"].transparent
    assert rec["10_mia ünï/good one.png"].readable and not rec["10_mia ünï/bomb.png"].readable
    assert [p.name for p in bad_report.stray_folders] == ["not a concept"]
    assert bad_report.errors == 8 and bad_report.warnings == len(bad_report.with_issues) - 8
    d = bad_report.to_dict()
    assert d["counts"]["corrupt"] == 2 and all("sha256" in f for f in d["files"])


def test_cache_skips_unchanged_files_and_redecodes_changed_ones(tmp_path):
    ds = tmp_path / "dataset"
    for i in range(6):
        save(textured(i), ds / "5_a" / f"{i}.png", "ohwx")
    first = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert (first.decoded, first.cached) == (6, 0)
    second = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert (second.decoded, second.cached, second.rehashed) == (0, 6, 0)
    assert [r.fingerprint for r in second.images] == [r.fingerprint for r in first.images]

    save(textured(99), ds / "5_a" / "0.png")  # new content under an old name
    os.utime(ds / "5_a" / "1.png", ns=(1, 1))  # same content, different mtime
    (ds / "5_a" / "2.png").rename(ds / "5_a" / "renamed.png")  # same content, new name
    third = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert third.decoded == 1 and third.rehashed == 2 and third.cached == 3
    r0 = next(r for r in third.images if r.path.name == "0.png")
    assert r0.fingerprint != first.images[0].fingerprint


def test_cancel_stops_early_and_keeps_finished_work(tmp_path):
    ds = tmp_path / "dataset"
    for i in range(40):
        save(textured(i), ds / "5_a" / f"{i:02}.png", "ohwx")
    cancel = threading.Event()

    def progress(done, total):
        if done >= 5:
            cancel.set()

    part = scan_folder(ds, tmp_path / ".cache", LIMITS, progress=progress, cancel=cancel, workers=2)
    assert part.cancelled and 5 <= len(part.images) < 40
    rest = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert not rest.cancelled and rest.cached >= 5 and rest.decoded <= 35 and len(rest.images) == 40


def test_damaged_cache_is_replaced_not_fatal(tmp_path):
    ds = tmp_path / "dataset"
    save(textured(1), ds / "5_a" / "1.png", "ohwx")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "dataset.sqlite").write_bytes(b"this is not a database" * 100)
    report = scan_folder(ds, tmp_path / ".cache", LIMITS)
    assert report.images[0].ok
    assert scan_folder(ds, tmp_path / ".cache", LIMITS).cached == 1


@pytest.mark.parametrize(("family", "size", "small"), [
    ("sd15", (512, 768), False), ("sd15", (400, 900), True),
    ("sdxl", (832, 1216), False), ("sdxl", (1024, 1024), False), ("sdxl", (768, 768), True),
])
def test_too_small_follows_the_model_family(family, size, small):
    limits = Limits(family=family, resolution=1024 if family == "sdxl" else 512)
    assert (limits.too_small(*size) is not None) is small


def test_project_scan_uses_project_settings(make_project):
    from tui_lora.core.dataset.scan import scan

    project = make_project(images=3, size=(128, 128))
    report = scan(project, thumbnails=True)
    assert len(report.images) == 3
    assert all(r.has(Problem.TOO_SMALL) for r in report.images)  # sd15 preset: 512
    assert len(list((project.cache_dir / "thumbs").rglob("*.jpg"))) == 3


def test_avif_scans_like_any_image(tmp_path):
    from PIL import features

    from tui_lora.core.dataset.probe import _sniff

    ds = tmp_path / "dataset"
    if features.check("avif"):
        save(textured(1), ds / "5_a" / "pic.avif", "ohwx", quality=80)
        [rec] = scan_folder(ds, tmp_path / ".cache", LIMITS).images
        assert rec.ok and rec.format == "AVIF"
    # without the codec, the message says what the file is and what to do
    assert "AVIF" in _sniff(b"\0\0\0\x1cftypavif" + b"\0" * 64)
