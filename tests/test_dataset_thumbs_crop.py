"""Review thumbnails (cached by content, made in parallel) and cropping for bucket-less training."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from _dataset_helpers import save, snapshot, textured
from tui_lora.core.dataset import trash
from tui_lora.core.dataset.crop import crop_box, crop_image, crop_images, output_size
from tui_lora.core.dataset.scan import scan
from tui_lora.core.dataset.thumbs import make_thumbnails, thumbnail_path


def test_thumbnail_is_small_cached_and_follows_content(make_project):
    project = make_project(images=0)
    c = project.concepts()[0].path
    img = save(textured(1, (600, 400)), c / "a pic ü.png")
    thumb = thumbnail_path(project, img)
    with Image.open(thumb) as t:
        assert t.size == (256, 171) and t.format == "JPEG"
    mtime = thumb.stat().st_mtime_ns
    assert thumbnail_path(project, img) == thumb and thumb.stat().st_mtime_ns == mtime
    save(textured(2, (300, 600)), img)  # edited: a new thumbnail, the old one untouched
    thumb2 = thumbnail_path(project, img)
    assert thumb2 != thumb
    with Image.open(thumb2) as t:
        assert t.size == (128, 256)


def test_make_thumbnails_in_parallel_and_from_the_scan(make_project):
    project = make_project(images=6, size=(320, 320))
    c = project.concepts()[0].path
    (c / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    images = sorted(c.glob("*.png"))
    out = make_thumbnails(project, images, workers=3)
    assert out[c / "broken.png"] is None
    assert all(out[p] is not None and out[p].is_file() for p in images if p.name != "broken.png")
    # a scan with thumbnails writes the same files, and the records find them without hashing again
    report = scan(project, thumbnails=True)
    recs = [r for r in report.images if r.readable]
    assert {thumbnail_path(project, r) for r in recs} == {out[r.path] for r in recs}


def test_output_size_and_centre_box():
    assert output_size((1, 1), 512) == (512, 512)
    assert output_size((2, 3), 512) == (512, 768)
    assert output_size((3, 2), 832) == (1248, 832)
    assert crop_box((900, 600), (1, 1)) == (150, 0, 750, 600)
    assert crop_box((600, 900), (1, 1)) == (0, 150, 600, 750)
    assert crop_box((600, 600), (2, 3)) == (100, 0, 500, 600)


def _busy_object_on_grey(side: str):
    img = Image.new("RGB", (900, 600), (128, 128, 128))
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(0)
    x_lo = 20 if side == "left" else 700
    for _ in range(200):
        x, y = int(rng.integers(x_lo, x_lo + 180)), int(rng.integers(200, 400))
        d.rectangle((x, y, x + 15, y + 15), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return img


def test_focus_keeps_the_salient_region_where_centre_cuts_it():
    for side in ("left", "right"):
        img = _busy_object_on_grey(side)
        _, centre, _ = crop_image(img, (1, 1), 256, "center")
        _, focus, _ = crop_image(img, (1, 1), 256, "focus")
        obj = (20, 215) if side == "left" else (700, 895)

        def inside(box, obj=obj):
            return box[0] <= obj[0] and obj[1] <= box[2]

        assert not inside(centre) and inside(focus), (side, centre, focus)


def test_focus_finds_skin_on_a_plain_background():
    img = Image.new("RGB", (900, 600), (40, 90, 160))
    ImageDraw.Draw(img).ellipse((700, 200, 860, 420), fill=(224, 172, 138))
    _, box, _ = crop_image(img, (1, 1), 256, "focus")
    assert box[0] <= 700 and box[2] >= 860


def test_pad_keeps_everything():
    img = textured(1, (300, 200))
    out, box, upscaled = crop_image(img, (1, 1), 512, "pad")
    assert out.size == (512, 512) and box == (0, 0, 300, 200) and upscaled
    assert out.getpixel((256, 5)) == (255, 255, 255)  # the letterbox
    out, _, upscaled = crop_image(img, (1, 1), 512, "pad", upscale=False)
    assert out.size == (300, 300) and not upscaled


def test_crop_images_in_place_and_restore(make_project):
    project = make_project(images=3, size=(300, 200))
    ds = project.dataset_dir
    before = snapshot(ds)
    plan = crop_images(project, aspect="1:1", size=128, mode="focus", dry_run=True)
    assert plan.count("planned") == 3 and snapshot(ds) == before
    report = crop_images(project, aspect="1:1", size=128, mode="focus")
    assert report.count("cropped") == 3
    for r in report.results:
        with Image.open(r.path) as im:
            assert im.size == (128, 128)
    again = crop_images(project, aspect="1:1", size=128)
    assert again.count("unchanged") == 3  # nothing cut twice
    assert len(trash.list_trash(project)) == 3
    trash.restore(project)
    assert snapshot(ds) == before
