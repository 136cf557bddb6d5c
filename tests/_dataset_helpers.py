"""Generated image files for the dataset review tests: one of every kind of bad file."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from tui_lora.demo.datasets import make_caption, make_image

SIZE = (160, 160)


def textured(seed: int, size=SIZE):
    """A generated image with noise on top, closer to a photo than flat shapes are."""
    import numpy as np
    from PIL import Image

    img = make_image(seed, size)
    rng = np.random.default_rng(seed)
    a = np.asarray(img).astype(np.int16) + rng.normal(0, 8, (size[1], size[0], 3)).astype(np.int16)
    return Image.fromarray(a.clip(0, 255).astype("uint8"))


def save(img, path: Path, caption: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    if caption is not None:
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    return path


def bomb_png(side: int = 20000) -> bytes:
    """A tiny PNG that claims side×side pixels (a decompression bomb)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


# file (relative to dataset/) → the problem codes a scan must report for it
EXPECTED: dict[str, set[str]] = {
    "10_mia ünï/good one.png": set(),
    "10_mia ünï/empty.png": {"empty", "missing_caption"},
    "10_mia ünï/page.jpg": {"not_image"},
    "10_mia ünï/truncated.png": {"corrupt", "same_name"},
    "10_mia ünï/truncated.jpg": {"corrupt", "same_name"},
    "10_mia ünï/bomb.png": {"too_large"},
    "10_mia ünï/tiny.png": {"too_small"},
    "10_mia ünï/wide.png": {"extreme_aspect"},
    "10_mia ünï/alpha.png": {"transparency"},
    "10_mia ünï/anim.webp": {"animated"},
    "10_mia ünï/cmyk.jpg": {"color_mode"},
    "10_mia ünï/palette.png": {"color_mode"},
    "10_mia ünï/grey alpha.png": {"color_mode"},
    "10_mia ünï/rotated.jpg": {"rotated"},
    "10_mia ünï/same.png": {"same_name"},
    "10_mia ünï/same.jpg": {"same_name"},
    "10_mia ünï/uncaptioned.png": {"missing_caption"},
    "10_mia ünï/blank caption.png": {"empty_caption"},
    "10_mia ünï/latin1.png": {"caption_encoding"},
    "10_mia ünï/bom.png": {"caption_encoding"},
    "10_mia ünï/orphan.txt": {"orphan_caption"},
    "10_mia ünï/moving.gif": {"unsupported", "animated"},
    "loose.png": {"outside_concept"},
    "not a concept/stray.png": {"outside_concept"},
}


def make_bad_dataset(dataset: Path, *, base: int = 96) -> None:
    """Every kind of problem the scan knows, with unicode and spaces in the paths.

    ``base`` is the side of the ordinary images: scan them with a resolution at or below it.
    """
    c = dataset / "10_mia ünï"
    s = (base, base)
    cap = "ohwx, " + make_caption(1)
    save(textured(1, s), c / "good one.png", cap)
    (c / "empty.png").write_bytes(b"")
    (c / "empty.png").with_suffix(".txt").unlink(missing_ok=True)
    save_text(c / "page.jpg", "<!DOCTYPE html><html><body>503 Service Unavailable</body></html>", cap)
    png = _bytes(textured(2, s), "PNG")
    (c / "truncated.png").write_bytes(png[: len(png) // 2])
    (c / "truncated.txt").write_text(cap, encoding="utf-8")
    jpg = _bytes(textured(3, s), "JPEG", quality=90)
    (c / "truncated.jpg").write_bytes(jpg[: len(jpg) * 2 // 3])  # shares truncated.txt
    (c / "bomb.png").write_bytes(bomb_png())
    (c / "bomb.txt").write_text(cap, encoding="utf-8")
    save(textured(4, (base // 3, base // 3)), c / "tiny.png", cap)
    save(textured(5, (base * 4, base)), c / "wide.png", cap)
    rgba = textured(6, s).convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 0))
    save(rgba, c / "alpha.png", "ohwx, transparent background, smile")
    frames = [textured(7 + i, s) for i in range(3)]
    frames[0].save(c / "anim.webp", save_all=True, append_images=frames[1:])
    (c / "anim.txt").write_text(cap, encoding="utf-8")
    frames[0].save(c / "moving.gif", save_all=True, append_images=frames[1:])
    (c / "moving.txt").write_text(cap, encoding="utf-8")
    save(textured(10, s).convert("CMYK"), c / "cmyk.jpg", cap)
    save(textured(11, s).convert("P"), c / "palette.png", cap)
    save(textured(12, s).convert("LA"), c / "grey alpha.png", cap)
    img = textured(13, (base, base * 3 // 2))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    save(img, c / "rotated.jpg", cap, exif=exif)
    save(textured(14, s), c / "same.png", cap)
    save(textured(15, s), c / "same.jpg")
    save(textured(16, s), c / "uncaptioned.png")
    save(textured(17, s), c / "blank caption.png", "  \n")
    save(textured(18, s), c / "latin1.png")
    (c / "latin1.txt").write_bytes("ohwx, café, smile".encode("cp1252"))
    save(textured(19, s), c / "bom.png")
    (c / "bom.txt").write_bytes(b"\xef\xbb\xbfohwx, smile")
    (c / "orphan.txt").write_text("ohwx, smile", encoding="utf-8")
    save(textured(20, s), dataset / "loose.png")
    save(textured(21, s), dataset / "not a concept" / "stray.png", cap)


def save_text(path: Path, text: str, caption: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if caption is not None:
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")


def _bytes(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def snapshot(dataset: Path) -> dict[str, str]:
    """{path relative to dataset/: sha256} of every file outside .trash."""
    return {p.relative_to(dataset).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(dataset.rglob("*")) if p.is_file() and ".trash" not in p.relative_to(dataset).parts}
