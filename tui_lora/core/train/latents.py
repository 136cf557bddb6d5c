"""VAE latents of the training images, cached in memory or on disk under .cache/latents/.

A disk entry is keyed by the image's content hash, its bucket placement and the VAE, so an
edited image, a new bucket size or another VAE gets new latents and nothing stale is reused.
Latents are the posterior mean (deterministic, so cached and uncached runs agree), unscaled.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset.buckets import Placement
from tui_lora.core.fsutil import atomic_write_bytes
from tui_lora.core.train.images import UnreadableImage, load_rgb, to_bucket, to_tensor

if TYPE_CHECKING:
    import torch
    from diffusers import AutoencoderKL

    from tui_lora.core.train.layout import DatasetLayout


def vae_fingerprint(vae: AutoencoderKL) -> str:
    """Identifies the VAE's weights cheaply: its config and its first and last convolutions."""
    import json

    import torch

    h = hashlib.sha256(json.dumps(dict(vae.config), sort_keys=True, default=str).encode())
    for t in (vae.encoder.conv_in.weight, vae.encoder.conv_out.weight):
        h.update(t.detach().to("cpu", torch.float32).numpy().tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(digest: str, placement: Placement, vae_fp: str) -> str:
    (bw, bh), (rw, rh) = placement.bucket, placement.resized
    return f"{digest[:32]}_{bw}x{bh}_{rw}x{rh}_{placement.crop_left}_{placement.crop_top}_{vae_fp}"


def encode_images(vae: AutoencoderKL, images: list[torch.Tensor], *, device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor:
    """Posterior means for a list of (3, H, W) tensors of one size."""
    import torch

    x = torch.stack(images).to(device=device, dtype=dtype)
    with torch.no_grad():
        return vae.encode(x).latent_dist.mode().to(torch.float32)


class LatentCache:
    """Latents (and mirrored latents when flip_aug is on) per dataset entry index."""

    def __init__(self, vae: AutoencoderKL, *, device: torch.device, dtype: torch.dtype, disk_dir: Path | None,
                 flip: bool) -> None:
        self.vae = vae
        self.device = device
        self.dtype = dtype
        self.disk_dir = disk_dir
        self.flip = flip
        self.fingerprint = vae_fingerprint(vae)
        self.latents: dict[int, torch.Tensor] = {}
        self.flipped: dict[int, torch.Tensor] = {}

    def get(self, index: int, flipped: bool = False) -> torch.Tensor:
        return (self.flipped if flipped else self.latents)[index]

    def build(self, entries: list, placements: list[Placement], *, batch_size: int = 4,
              progress: Callable[[int, int], None] = lambda done, total: None,
              cancelled: Callable[[], bool] = lambda: False) -> list[int]:
        """Encode (or read from disk) every entry; returns the indices of unreadable images."""
        from safetensors.torch import load_file, save

        bad: list[int] = []
        todo: dict[tuple, list[tuple[int, str | None]]] = {}
        total = len(entries)
        done = 0
        for i, (entry, pl) in enumerate(zip(entries, placements)):
            key = None
            if self.disk_dir is not None:
                try:
                    key = cache_key(file_digest(entry.path), pl, self.fingerprint)
                except OSError:
                    bad.append(i)
                    done += 1
                    continue
                path = self.disk_dir / f"{key}.safetensors"
                if path.is_file():
                    try:
                        data = load_file(str(path))
                    except Exception:  # noqa: BLE001 - damaged entry: encode again
                        data = {}
                    if "latents" in data and (not self.flip or "flipped" in data):
                        self.latents[i] = data["latents"]
                        if self.flip:
                            self.flipped[i] = data["flipped"]
                        done += 1
                        progress(done, total)
                        continue
            todo.setdefault(pl.bucket, []).append((i, key))
        for _bucket, items in todo.items():
            for start in range(0, len(items), batch_size):
                if cancelled():
                    return bad
                chunk = items[start:start + batch_size]
                imgs, flips, ok = [], [], []
                for i, key in chunk:
                    try:
                        pil = to_bucket(load_rgb(entries[i].path), placements[i])
                    except UnreadableImage:
                        bad.append(i)
                        continue
                    imgs.append(to_tensor(pil))
                    if self.flip:
                        flips.append(to_tensor(pil.transpose(0)))  # PIL.Image.FLIP_LEFT_RIGHT
                    ok.append((i, key))
                if ok:
                    lat = encode_images(self.vae, imgs, device=self.device, dtype=self.dtype).cpu()
                    flat = encode_images(self.vae, flips, device=self.device, dtype=self.dtype).cpu() if self.flip else None
                    for n, (i, key) in enumerate(ok):
                        self.latents[i] = lat[n].contiguous().clone()
                        if flat is not None:
                            self.flipped[i] = flat[n].contiguous().clone()
                        if key is not None and self.disk_dir is not None:
                            tensors = {"latents": self.latents[i]}
                            if flat is not None:
                                tensors["flipped"] = self.flipped[i]
                            atomic_write_bytes(self.disk_dir / f"{key}.safetensors", save(tensors))
                done += len(chunk)
                progress(min(done, total), total)
        return bad


# ----- shared between runs in one process (a sweep's variants: core.train.reuse) ------------------
def latent_key(layout: DatasetLayout, *, flip: bool, vae_fingerprint: str, dtype: Any) -> tuple:
    """What the cached latents depend on: each image (path, size), its bucket placement, mirroring, the VAE."""
    images = tuple((str(e.path), e.size) for e in layout.entries)
    return images, tuple(layout.placements), bool(flip), vae_fingerprint, str(dtype)


class LatentShare:
    """One latent cache kept between runs, with the unreadable images its build found."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.cache: LatentCache | None = None
        self.bad: list[int] = []
        self.builds = 0

    def take(self, key: tuple) -> tuple[LatentCache, list[int]] | None:
        """A copy of the kept cache (a run may drop unreadable images from its copy) when ``key`` matches."""
        if self.cache is None or key != self.key:
            return None
        cache = copy.copy(self.cache)
        cache.latents, cache.flipped = dict(self.cache.latents), dict(self.cache.flipped)
        return cache, list(self.bad)

    def keep(self, key: tuple, cache: LatentCache, bad: list[int]) -> None:
        kept = copy.copy(cache)
        kept.latents, kept.flipped = dict(cache.latents), dict(cache.flipped)
        self.key, self.cache, self.bad = key, kept, list(bad)
        self.builds += 1
