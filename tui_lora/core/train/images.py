"""Load one training image into its bucket: EXIF rotation, alpha on white, resize to cover,
centre crop, optional mirror; a tensor in [-1, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.dataset.buckets import Placement

if TYPE_CHECKING:
    import torch
    from PIL import Image


class UnreadableImage(Exception):
    """The file cannot be decoded (truncated, corrupt, not an image)."""


def load_rgb(path: Path) -> Image.Image:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                img = img.convert("RGBA")
                bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
                img = Image.alpha_composite(bg, img)
            return img.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same to the trainer
        raise UnreadableImage(f"{path.name}: {exc}") from None


def to_bucket(img: Image.Image, placement: Placement) -> Image.Image:
    """Resize ``img`` (PIL) to cover the bucket and centre-crop it; returns a PIL image."""
    from PIL import Image

    rw, rh = placement.resized
    if img.size != (rw, rh):
        img = img.resize((rw, rh), Image.Resampling.LANCZOS)
    bw, bh = placement.bucket
    left, top = placement.crop_left, placement.crop_top
    return img.crop((left, top, left + bw, top + bh))


def to_tensor(img: Image.Image) -> torch.Tensor:
    import numpy as np
    import torch

    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def load_for_bucket(path: Path, placement: Placement) -> torch.Tensor:
    """(3, H, W) float tensor in [-1, 1] for ``path`` placed in its bucket."""
    return to_tensor(to_bucket(load_rgb(path), placement))
