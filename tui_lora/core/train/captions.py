"""Captions the kohya way: read, shuffle behind keep_tokens, drop out, count tags. Pure Python."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path


def read_caption(image: Path, extension: str = ".txt") -> str | None:
    """The first non-empty line of the caption next to ``image``; None when missing or empty."""
    ext = extension if extension.startswith(".") else "." + extension
    path = image.with_suffix(ext)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def split_tags(caption: str) -> list[str]:
    return [t.strip() for t in caption.split(",") if t.strip()]


def process_caption(caption: str, *, shuffle: bool, keep_tokens: int, dropout_rate: float, rng: random.Random) -> str:
    """The caption one step trains on.

    With probability ``dropout_rate`` it is empty (the LoRA learns to work without its tags);
    otherwise, when shuffling, the tags after the first ``keep_tokens`` are shuffled.
    ``rng`` is drawn from in the same order whatever the settings, so turning one option on
    does not change the randomness of the others.
    """
    drop = rng.random() < dropout_rate
    if drop:
        return ""
    if not shuffle:
        return caption
    tags = split_tags(caption)
    fixed, flex = tags[:keep_tokens], tags[keep_tokens:]
    rng.shuffle(flex)
    return ", ".join(fixed + flex)


def tag_frequency(captions_by_folder: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """kohya's ss_tag_frequency: for each dataset folder, how many captions hold each tag."""
    out: dict[str, dict[str, int]] = {}
    for folder, captions in captions_by_folder.items():
        counter: Counter[str] = Counter()
        for c in captions:
            counter.update(dict.fromkeys(split_tags(c), 1))
        out[folder] = dict(counter.most_common())
    return out


def step_rng(seed: int, epoch: int, batch_index: int, position: int) -> random.Random:
    """The caption / flip randomness of one sample in one step: a pure function of where it is,
    so a resumed run draws exactly what an uninterrupted one would."""
    return random.Random(f"tui-lora-caption:{seed}:{epoch}:{batch_index}:{position}")
