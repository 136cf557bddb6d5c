"""Turn one batch of dataset indices into the tensors a step needs.

All per-sample randomness (caption dropout and shuffle, mirroring) comes from
:func:`captions.step_rng`, keyed by (seed, epoch, batch, position): a resumed run rebuilds
exactly the batch an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.train.captions import process_caption, read_caption, step_rng, tag_frequency
from tui_lora.core.train.images import UnreadableImage, load_rgb, to_bucket, to_tensor
from tui_lora.core.train.layout import DatasetLayout

if TYPE_CHECKING:
    import torch

    from tui_lora.core.settings import DatasetSettings


@dataclass(frozen=True)
class CaptionOptions:
    shuffle: bool = False
    keep_tokens: int = 0
    dropout_rate: float = 0.0
    flip: bool = False

    @classmethod
    def from_settings(cls, d: DatasetSettings) -> CaptionOptions:
        return cls(d.shuffle_caption, d.keep_tokens, d.caption_dropout_rate, d.flip_aug)

    @property
    def varies_per_step(self) -> bool:
        """True when one image's caption can differ between steps (then TE outputs cannot be cached)."""
        return self.shuffle or self.dropout_rate > 0


@dataclass
class BatchItem:
    index: int  # into layout.entries
    caption: str
    flip: bool


def load_captions(layout: DatasetLayout, extension: str, trigger_word: str) -> tuple[list[str], dict[str, list[Path]]]:
    """Every entry's caption; an uncaptioned training image trains on the trigger word (or its
    folder's name, kohya's class token), a regularization image on its folder's name.
    Returns (captions, {fallback caption: images that had none})."""
    captions, missing = [], {}
    for e in layout.entries:
        text = read_caption(e.path, extension)
        if text is None:
            text = e.name if (e.is_reg or not trigger_word) else trigger_word
            missing.setdefault(text, []).append(e.path)
        captions.append(text)
    return captions, missing


def folder_tag_frequency(layout: DatasetLayout, captions: list[str]) -> dict[str, dict[str, int]]:
    by_folder: dict[str, list[str]] = {}
    for e, c in zip(layout.entries, captions):
        by_folder.setdefault(e.folder, []).append(c)
    return tag_frequency(by_folder)


def batch_items(batch: list[int], captions: list[str], opts: CaptionOptions, *, seed: int, epoch: int,
                batch_index: int) -> list[BatchItem]:
    items = []
    for pos, i in enumerate(batch):
        rng = step_rng(seed, epoch, batch_index, pos)
        caption = process_caption(captions[i], shuffle=opts.shuffle, keep_tokens=opts.keep_tokens,
                                  dropout_rate=opts.dropout_rate, rng=rng)
        flip = rng.random() < 0.5
        items.append(BatchItem(i, caption, opts.flip and flip))
    return items


def sdxl_time_ids(layout: DatasetLayout, items: list[BatchItem]) -> torch.Tensor:
    """SDXL's size / crop conditioning per sample: (orig_h, orig_w, crop_top, crop_left, target_h, target_w)."""
    import torch

    rows = []
    for it in items:
        e, p = layout.entries[it.index], layout.placements[it.index]
        left = p.crop_left
        if it.flip:
            left = p.resized[0] - p.bucket[0] - left
        rows.append([e.size[1], e.size[0], p.crop_top, left, p.bucket[1], p.bucket[0]])
    return torch.tensor(rows, dtype=torch.float32)


def load_pixels(layout: DatasetLayout, items: list[BatchItem]) -> tuple[list[torch.Tensor], list[int]]:
    """(3, H, W) tensors for ``items`` read from disk now; returns (tensors, unreadable item positions)."""
    out, bad = [], []
    for pos, it in enumerate(items):
        try:
            pil = to_bucket(load_rgb(layout.entries[it.index].path), layout.placements[it.index])
        except UnreadableImage:
            bad.append(pos)
            continue
        out.append(to_tensor(pil.transpose(0) if it.flip else pil))
    return out, bad
