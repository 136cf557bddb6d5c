"""What one epoch consists of: images, repeats, regularization balance and buckets.

Light on purpose (PIL headers only, no torch): the planner (``tui-lora steps``, the wizard)
calls :func:`scan_layout` too, so the steps per epoch it shows are the trainer's real ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset.buckets import (
    BucketSpec,
    Placement,
    Size,
    assign_buckets,
    bucket_sample_counts,
    epoch_batches,
    group_by_bucket,
    reg_repeats,
)
from tui_lora.core.dataset.folders import check_repeats, list_concepts

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.core.settings import DatasetSettings

_EXIF_ORIENTATION = 0x0112
_SIZE_CACHE: dict[tuple[str, int, int], Size | None] = {}


@dataclass(frozen=True)
class ImageEntry:
    path: Path
    folder: str  # "10_ohwx"
    name: str  # "ohwx": kohya's class token, the caption of an uncaptioned image
    folder_repeats: int
    is_reg: bool
    size: Size  # (width, height) as the image is shown (EXIF rotation applied)


@dataclass
class DatasetLayout:
    spec: BucketSpec
    entries: list[ImageEntry]
    placements: list[Placement]
    repeats: list[int]  # effective repeats per entry (regularization balanced as kohya does)
    unreadable: list[Path] = field(default_factory=list)

    @property
    def train_images(self) -> int:
        return sum(1 for e in self.entries if not e.is_reg)

    @property
    def train_samples(self) -> int:
        return sum(r for e, r in zip(self.entries, self.repeats) if not e.is_reg)

    @property
    def reg_samples(self) -> int:
        return sum(r for e, r in zip(self.entries, self.repeats) if e.is_reg)

    def groups(self) -> dict[Size, list[int]]:
        return group_by_bucket([p.bucket for p in self.placements], self.repeats)

    def bucket_samples(self) -> tuple[int, ...]:
        return bucket_sample_counts([p.bucket for p in self.placements], self.repeats)

    def steps_per_epoch(self, global_batch: int) -> int:
        return sum(-(-n // global_batch) for n in self.bucket_samples())  # from counts: no sample lists

    def epoch_batches(self, global_batch: int, seed: int, epoch: int) -> list[list[int]]:
        return epoch_batches(self.groups(), global_batch, seed, epoch)

    def without(self, bad: set[int]) -> "DatasetLayout":
        """The layout minus some entries (images that turned out to be unreadable)."""
        keep = [i for i in range(len(self.entries)) if i not in bad]
        return DatasetLayout(
            self.spec,
            [self.entries[i] for i in keep],
            [self.placements[i] for i in keep],
            _balanced_repeats([self.entries[i] for i in keep]),
            self.unreadable + [self.entries[i].path for i in sorted(bad)],
        )

    def bucket_info(self) -> dict[str, Any]:
        """kohya's ss_bucket_info: {"buckets": {i: {"resolution": [w, h], "count": n}}, "mean_img_ar_error": e}."""
        buckets = {}
        for i, (b, members) in enumerate(self.groups().items()):
            buckets[i] = {"resolution": list(b), "count": len(members)}
        errors = [abs(p.bucket[0] / p.bucket[1] - e.size[0] / e.size[1])
                  for e, p in zip(self.entries, self.placements)]
        return {"buckets": buckets, "mean_img_ar_error": sum(errors) / len(errors) if errors else 0.0}


def read_image_size(path: Path) -> Size | None:
    """(width, height) from the image header, EXIF rotation applied; None when unreadable."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key in _SIZE_CACHE:
        return _SIZE_CACHE[key]
    from PIL import Image, UnidentifiedImageError

    size: Size | None
    try:
        with Image.open(path) as img:
            w, h = img.size
            try:
                orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            except Exception:  # noqa: BLE001 - a broken EXIF block is not a broken image
                orientation = 1
        size = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        if size[0] <= 0 or size[1] <= 0:
            size = None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        size = None
    if len(_SIZE_CACHE) > 100_000:
        _SIZE_CACHE.clear()
    _SIZE_CACHE[key] = size
    return size


def _entries(root: Path, is_reg: bool, unreadable: list[Path]) -> list[ImageEntry]:
    out = []
    for c in list_concepts(root):
        check_repeats(c.folder, c.repeats)
        for p in c.images():
            size = read_image_size(p)
            if size is None:
                unreadable.append(p)
                continue
            out.append(ImageEntry(p, c.folder, c.name, c.repeats, is_reg, size))
    return out


def _balanced_repeats(entries: list[ImageEntry]) -> list[int]:
    train = sum(e.folder_repeats for e in entries if not e.is_reg)
    reg_idx = [i for i, e in enumerate(entries) if e.is_reg]
    reps = [0 if e.is_reg else e.folder_repeats for e in entries]
    for i, r in zip(reg_idx, reg_repeats(train, [entries[i].folder_repeats for i in reg_idx])):
        reps[i] = r
    return reps


def resolve_reg_dir(project_root: Path, reg_data_dir: str) -> Path | None:
    if not reg_data_dir:
        return None
    p = Path(os.path.expanduser(reg_data_dir))
    return p if p.is_absolute() else project_root / p


def project_layout(project: Project, dataset_settings: DatasetSettings) -> DatasetLayout:
    """The project's dataset/ and its regularization folder (``dataset.reg_data_dir``), scanned."""
    reg_dir = resolve_reg_dir(project.root, dataset_settings.reg_data_dir)
    return scan_layout(project.dataset_dir, dataset_settings, reg_dir=reg_dir)


def scan_layout(dataset_dir: Path, dataset_settings: DatasetSettings, *, reg_dir: Path | None = None) -> DatasetLayout:
    """Scan ``dataset/<N>_<name>/`` (and the regularization folder) into an epoch layout."""
    spec = BucketSpec.from_settings(dataset_settings)
    unreadable: list[Path] = []
    entries = _entries(dataset_dir, False, unreadable)
    if reg_dir is not None:
        entries += _entries(reg_dir, True, unreadable)
    placements = assign_buckets([e.size for e in entries], spec)
    return DatasetLayout(spec, entries, placements, _balanced_repeats(entries), unreadable)
