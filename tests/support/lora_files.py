"""Saved LoRA files with a visible effect, for comparison tests and benchmarks."""

from __future__ import annotations

import io
from pathlib import Path


def make_lora_files(root: Path, model: Path, family: str = "sd15", *, epochs: tuple[int, ...] = (1, 2),
                    final: int = 3, strength: float = 0.4, settings: dict | None = None, device: str | None = None):
    """A project on ``model`` with ``output/<name>-NNNNNN.safetensors`` for ``epochs`` and the final file
    (``ss_epoch`` = ``final``). Each is the trainer's real kohya file after one real step, its up-weights
    then set to fixed random values, stronger each epoch, so the LoRA changes images visibly (a freshly
    initialised LoRA has up = 0 and does nothing). LoHa and LoKr (``settings``) get the same for the
    factor that starts at zero (``hada_w2_b``, ``lokr_w2`` / ``lokr_w2_b``). Returns the project."""
    import torch

    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer
    from support.train import make_train_project

    project = make_train_project(root, model, family=family, images=1,
                                 settings={"training.max_train_epochs": 1, **(settings or {})})
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()),
                             device=device)
    trainer.fit(until_step=1)
    gen = torch.Generator().manual_seed(3)
    zero_at_start = [_zero_factor(m.params()) for m in trainer.s.modules]
    noise = [torch.randn(p.shape, generator=gen) for p in zero_at_start]
    for n, epoch in enumerate([*epochs, final], start=1):
        with torch.no_grad():
            for p, z in zip(zero_at_start, noise):
                p.copy_(z * strength * n)
        trainer.save(project.final_file() if epoch == final else project.epoch_file(epoch), epoch=epoch)
    return project


def _zero_factor(params: dict):
    """The trained tensor that is zero at initialisation, so ΔW is too."""
    for name in ("up", "hada_w2_b", "lokr_w2_b", "lokr_w2"):
        if name in params:
            return params[name]
    raise ValueError(f"no zero-initialised factor among {sorted(params)}")
