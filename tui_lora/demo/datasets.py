"""Generated images with booru-style captions, for tests, benchmarks and the demo project.

Every image is distinct (its own background colour, shapes and positions from a seeded RNG), so
duplicate detection and training see real variety; the same seed gives the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

TAG_POOL = (
    "smile", "open mouth", "long hair", "short hair", "red hair", "blue eyes", "green eyes",
    "looking at viewer", "upper body", "full body", "outdoors", "indoors", "sky", "cloud",
    "holding", "standing", "sitting", "hat", "jacket", "dress", "white background",
    "simple background", "night", "day", "flower", "tree", "water", "blush",
)


def make_image(seed: int, size: tuple[int, int] = (128, 128)):
    """One distinct RGB PIL image drawn from ``seed``."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    w, h = size
    bg = tuple(rng.randrange(256) for _ in range(3))
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(w // 8, w // 2), y0 + rng.randint(h // 8, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return img


def make_caption(seed: int, trigger: str = "", n_tags: int = 6) -> str:
    rng = random.Random(seed * 7919 + 1)
    tags = rng.sample(TAG_POOL, k=min(n_tags, len(TAG_POOL)))
    return ", ".join(([trigger] if trigger else []) + tags)


def write_dataset(
    folder: str | Path,
    n: int = 8,
    *,
    size: tuple[int, int] | list[tuple[int, int]] = (128, 128),
    seed: int = 0,
    captions: bool = True,
    trigger: str = "",
    fmt: str = "png",
) -> list[Path]:
    """Write ``n`` images (and same-name .txt captions) into ``folder``; return the image paths.

    ``size`` may be a list to cycle through several aspect ratios (exercises bucketing).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = size if isinstance(size, list) else [size]
    out = []
    for i in range(n):
        img = make_image(seed * 100_003 + i, sizes[i % len(sizes)])
        path = folder / f"img_{i:04d}.{fmt}"
        img.save(path)
        if captions:
            path.with_suffix(".txt").write_text(make_caption(seed * 100_003 + i, trigger), encoding="utf-8")
        out.append(path)
    return out


def write_problem_images(folder: str | Path, *, near_copy_of: str | Path | None = None, seed: int = 7,
                         trigger: str = "", size: tuple[int, int] = (128, 128)) -> dict[str, Path]:
    """Add the usual troublemakers to a dataset folder, each with a caption, for Review to find:

    ``truncated`` (a PNG cut in half: corrupt), ``tiny`` (24×24: smaller than any training
    resolution), ``transparent`` (RGBA with a see-through background) and, when ``near_copy_of``
    names an image, ``near_copy`` (that image resized to 3/4 and saved as JPEG: a near-duplicate).
    Returns {kind: image path}.
    """
    import io

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def caption(path: Path, n: int) -> None:
        path.with_suffix(".txt").write_text(make_caption(seed * 1000 + n, trigger), encoding="utf-8")

    buf = io.BytesIO()
    make_image(seed * 1000 + 1, size).save(buf, format="PNG")
    out["truncated"] = folder / "truncated.png"
    out["truncated"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    out["tiny"] = folder / "tiny.png"
    make_image(seed * 1000 + 2, (24, 24)).save(out["tiny"])
    rgba = make_image(seed * 1000 + 3, size).convert("RGBA")
    w, h = size
    alpha = Image.new("L", size, 0)
    alpha.paste(255, (w // 4, h // 4, w * 3 // 4, h * 3 // 4))
    rgba.putalpha(alpha)
    out["transparent"] = folder / "transparent.png"
    rgba.save(out["transparent"])
    for n, kind in enumerate(("truncated", "tiny", "transparent"), 1):
        caption(out[kind], n)
    if near_copy_of is not None:
        src = Path(near_copy_of)
        with Image.open(src) as im:
            copy = im.convert("RGB").resize((im.width * 3 // 4, im.height * 3 // 4), Image.Resampling.LANCZOS)
        out["near_copy"] = folder / f"{src.stem}_copy.jpg"
        copy.save(out["near_copy"], quality=90)
        if src.with_suffix(".txt").exists():
            out["near_copy"].with_suffix(".txt").write_bytes(src.with_suffix(".txt").read_bytes())
    return out
