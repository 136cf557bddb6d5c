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
