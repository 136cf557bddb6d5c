"""Aspect-ratio buckets, the kohya way. Pure Python: no PIL, no torch.

The planner and the trainer both call these functions, so the steps the planner promises are
the steps the trainer takes.

- ``make_bucket_resolutions``: every (w, h) with both sides multiples of ``steps`` between
  ``min_size`` and ``max_size`` whose area is at most ``resolution²`` (kohya's
  ``make_bucket_resolutions``), plus the square.
- ``select_bucket``: the bucket with the nearest aspect ratio; the image is resized to cover it
  and centre-cropped. With ``no_upscale`` an image keeps its own size (shrunk to the maximum
  area only when larger) and the bucket is that size rounded down to ``steps``.
- ``epoch_batches``: kohya's batching: each bucket is shuffled and cut into batches, and the
  batches of all buckets are shuffled together. It is a pure function of (seed, epoch), so a
  resumed run can skip to the exact batch.
- ``reg_repeats``: how kohya balances regularization images against the training samples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_lora.core.settings import DatasetSettings

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class BucketSpec:
    """How images map to buckets; built from the [dataset] settings."""

    resolution: int = 512
    enable_bucket: bool = True
    min_size: int = 256
    max_size: int = 1024
    steps: int = 64
    no_upscale: bool = False

    @classmethod
    def from_settings(cls, dataset: DatasetSettings) -> BucketSpec:
        return cls(
            resolution=dataset.resolution,
            enable_bucket=dataset.enable_bucket,
            min_size=dataset.min_bucket_reso,
            max_size=dataset.max_bucket_reso,
            steps=dataset.bucket_reso_steps,
            no_upscale=dataset.bucket_no_upscale,
        )

    @property
    def max_area(self) -> int:
        return self.resolution * self.resolution


@dataclass(frozen=True)
class Placement:
    """Where one image goes: its bucket and the size it is resized to before the centre crop."""

    bucket: Size
    resized: Size
    crop_left: int
    crop_top: int


def make_bucket_resolutions(resolution: int, min_size: int = 256, max_size: int = 1024, steps: int = 64) -> list[Size]:
    """kohya's bucket list for a square base resolution, sorted."""
    max_area = resolution * resolution
    resos: set[Size] = set()
    side = int(math.sqrt(max_area) // steps) * steps
    resos.add((side, side))
    width = min_size
    while width <= max_size:
        height = min(max_size, int((max_area // width) // steps) * steps)
        if height >= min_size:
            resos.add((width, height))
            resos.add((height, width))
        width += steps
    return sorted(resos)


def _round_to_steps(x: float, steps: int) -> int:
    return max(steps, int(x + 0.5) // steps * steps)


def select_bucket(size: Size, spec: BucketSpec, buckets: Sequence[Size] | None = None) -> Placement:
    """The bucket and resize for one image of ``size`` (width, height)."""
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"image size {size} is empty")
    if not spec.enable_bucket:
        bucket = (spec.resolution, spec.resolution)
        return _cover(size, bucket)
    aspect = w / h
    if not spec.no_upscale:
        if buckets is None:
            buckets = make_bucket_resolutions(spec.resolution, spec.min_size, spec.max_size, spec.steps)
        if (w, h) in buckets:
            return Placement((w, h), (w, h), 0, 0)
        bucket = min(buckets, key=lambda b: (abs(b[0] / b[1] - aspect), b))
        return _cover(size, bucket)
    # bucket_no_upscale: keep the image's own size (shrunk to the area budget), crop to steps.
    if w * h > spec.max_area:
        rw = math.sqrt(spec.max_area * aspect)
        rh = spec.max_area / rw
        bw = _round_to_steps(rw, spec.steps)
        bh_for_w = _round_to_steps(bw / aspect, spec.steps)
        bh = _round_to_steps(rh, spec.steps)
        bw_for_h = _round_to_steps(bh * aspect, spec.steps)
        if abs(bw / bh_for_w - aspect) < abs(bw_for_h / bh - aspect):
            resized = (bw, int(bw / aspect + 0.5))
        else:
            resized = (int(bh * aspect + 0.5), bh)
    else:
        resized = (w, h)
    bucket = (max(spec.steps, resized[0] - resized[0] % spec.steps),
              max(spec.steps, resized[1] - resized[1] % spec.steps))
    if bucket[0] > resized[0] or bucket[1] > resized[1]:
        # Smaller than one step: the only way to a valid latent grid is a small upscale.
        return _cover(size, bucket)
    return Placement(bucket, resized, (resized[0] - bucket[0]) // 2, (resized[1] - bucket[1]) // 2)


def _cover(size: Size, bucket: Size) -> Placement:
    """Resize ``size`` so it covers ``bucket`` (keeping the aspect ratio), then centre-crop."""
    w, h = size
    bw, bh = bucket
    if w / h > bw / bh:  # wider than the bucket: match heights
        scale = bh / h
    else:
        scale = bw / w
    rw, rh = max(bw, int(w * scale + 0.5)), max(bh, int(h * scale + 0.5))
    return Placement(bucket, (rw, rh), (rw - bw) // 2, (rh - bh) // 2)


def assign_buckets(sizes: Sequence[Size], spec: BucketSpec) -> list[Placement]:
    """``select_bucket`` for many images, computing the bucket list once."""
    buckets = make_bucket_resolutions(spec.resolution, spec.min_size, spec.max_size, spec.steps)
    return [select_bucket(s, spec, buckets) for s in sizes]


def reg_repeats(train_samples: int, reg_folder_repeats: Sequence[int]) -> list[int]:
    """Repeats for each regularization image (in order), balanced against the training samples.

    kohya's rule: the first pass registers each reg image with its folder's repeats until the
    count reaches ``train_samples``; later passes add one repeat per image. Images never reached
    get 0. The reg samples total about ``train_samples``.
    """
    out = [0] * len(reg_folder_repeats)
    if not reg_folder_repeats or train_samples <= 0:
        return out
    n = 0
    first = True
    while n < train_samples:
        for i, r in enumerate(reg_folder_repeats):
            if first:
                out[i] = r
                n += r
            else:
                out[i] += 1
                n += 1
            if n >= train_samples:
                break
        first = False
    return out


def group_by_bucket(buckets: Sequence[Size], repeats: Sequence[int]) -> dict[Size, list[int]]:
    """Sample lists per bucket: image index i appears ``repeats[i]`` times in its bucket."""
    groups: dict[Size, list[int]] = {}
    for i, (b, r) in enumerate(zip(buckets, repeats)):
        if r > 0:
            groups.setdefault(b, []).extend([i] * r)
    return dict(sorted(groups.items()))


def bucket_sample_counts(buckets: Sequence[Size], repeats: Sequence[int]) -> tuple[int, ...]:
    """Samples per bucket (sorted by bucket), what the planner needs: counted, never listed."""
    counts: dict[Size, int] = {}
    for b, r in zip(buckets, repeats):
        if r > 0:
            counts[b] = counts.get(b, 0) + r
    return tuple(counts[b] for b in sorted(counts))


def steps_per_epoch(groups: dict[Size, list[int]], batch_size: int) -> int:
    return sum(math.ceil(len(v) / batch_size) for v in groups.values() if v)


def epoch_batches(groups: dict[Size, list[int]], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch (lists of image indices), a pure function of (seed, epoch).

    ``batch_size`` is the global batch: with several GPUs each process takes its slice of every
    batch, so a multi-GPU run sees the same samples per step as a one-GPU run.
    """
    rng = random.Random(f"tui-lora-batches:{seed}:{epoch}")
    batches: list[list[int]] = []
    for _bucket, members in sorted(groups.items()):
        members = list(members)
        rng.shuffle(members)
        batches.extend(members[i:i + batch_size] for i in range(0, len(members), batch_size))
    rng.shuffle(batches)
    return batches
