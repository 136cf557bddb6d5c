"""Helpers for trainer tests and benchmarks: tiny, fast settings and a project on a tiny model."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Small images, small buckets, a small network, fp32 AdamW: a step takes a fraction of a second on a CPU.
FAST_SETTINGS: dict[str, Any] = {
    "dataset.resolution": 64,
    "dataset.min_bucket_reso": 64,
    "dataset.max_bucket_reso": 128,
    "dataset.cache_latents_to_disk": False,
    "network.network_dim": 4,
    "network.network_alpha": 2.0,
    "network.conv_dim": 2,
    "network.conv_alpha": 1.0,
    "training.optimizer_type": "AdamW",
    "training.mixed_precision": "no",
    "training.max_train_epochs": 1,
    "training.train_batch_size": 2,
    "training.max_token_length": 75,
    "training.gradient_checkpointing": False,
    "training.lr_warmup_ratio": 0.0,
}


def make_train_project(root: Path, base_model: Path, *, family: str = "sd15", images: int = 4, repeats: int = 1,
                       size: Any = (64, 64), trigger: str = "ohwx", settings: dict[str, Any] | None = None,
                       seed: int = 0):
    """A project on ``base_model`` with ``images`` generated images in ``dataset/<repeats>_<trigger>/``."""
    from tui_lora.core.project import Project
    from tui_lora.demo.datasets import write_dataset

    preset = "sdxl-character" if family == "sdxl" else "sd15-anime-character"
    project = Project.create(root, preset=preset, base_model=str(base_model), trigger=trigger)
    concept = project.concepts()[0].path
    target = concept.with_name(f"{repeats}_{trigger}")
    concept.rename(target)
    if images:
        write_dataset(target, images, size=size, trigger=trigger, seed=seed)
    merged = {**FAST_SETTINGS, **(settings or {})}
    # max_train_steps first: epochs 0 is only valid once steps are set
    for dotted in sorted(merged, key=lambda k: k != "training.max_train_steps"):
        project.set(dotted, merged[dotted])
    project.save()
    return project


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Tiny models run fastest on one thread, and far faster than on threads that compete for cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sigterm_pending(pgid: int) -> bool:
    """Whether a process of the group has a SIGTERM waiting (it is frozen, so not yet handled)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            fields = dict(line.split(":", 1) for line in (stat.parent / "status").read_text().splitlines())
        except (OSError, ValueError, IndexError):
            continue
        if int(fields.get("ShdPnd", "0").strip(), 16) & (1 << (signal.SIGTERM - 1)):
            return True
    return False
