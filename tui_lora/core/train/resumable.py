"""What a run saves to resume and how it loads it back: :class:`TrainState` and :class:`Resumable`.

:class:`~.trainer.Trainer` inherits :meth:`Resumable.state_dict` / :meth:`Resumable.load_state_dict`:
everything needed to continue a run exactly (LoRA weights, optimizer, scheduler, grad scaler, RNG
states, counters, losses, files). :mod:`.checkpoint` writes it to disk. It is apart from the
training loop because it changes with what a run keeps (a new optimizer state, a new RNG), not
with how a step trains, and a state that no longer fits the network must fail with one sentence.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import Fix, RunAction, UserError
from tui_lora.core.train.optim import load_optimizer_state

if TYPE_CHECKING:
    from tui_lora.core.train.progress import LossMeter
    from tui_lora.core.train.setup import Setup


@dataclass
class TrainState:
    global_step: int = 0
    epoch: int = 0  # index of the epoch in progress (0-based); files are numbered epoch + 1
    step_in_epoch: int = 0  # batches of ``epoch`` already trained

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainState":
        return cls(int(d["global_step"]), int(d["epoch"]), int(d["step_in_epoch"]))


class Resumable:
    """The Trainer's state_dict / load_state_dict (a mixin: it reads the Trainer's attributes)."""

    s: Setup
    state: TrainState
    files: list[Path]
    _losses: LossMeter

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: weights, optimizer, schedule, RNGs, counters."""
        import numpy as np
        import torch

        s = self.s
        scaler = getattr(s.accelerator, "scaler", None)
        return {
            "format": 1,
            "state": self.state.to_dict(),
            "lora": {f"{m.kohya}.{part}": p.detach().to("cpu", torch.float32).clone()
                     for m in s.modules for part, p in m.params().items()},
            "optimizer": s.optimizer.state_dict(),
            "lr_scheduler": s.lr_scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
            "losses": list(self._losses.values),
            "files": [str(p) for p in self.files],
        }

    def _start_over(self) -> Fix:
        return Fix("start over with {}", RunAction("train.restart", str(self.s.project.root)))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import numpy as np
        import torch

        s = self.s
        if state.get("format") != 1:
            raise UserError("The saved training state has an unknown format", self._start_over())
        lora = state["lora"]
        params = {f"{m.kohya}.{part}": p for m in s.modules for part, p in m.params().items()}
        # every tensor, the same shapes: a type, dim or DoRA switch changed since the state was saved otherwise
        if params.keys() != lora.keys() or any(tuple(lora[k].shape) != tuple(p.shape) for k, p in params.items()):
            raise UserError("The saved training state does not match this network (dim, type or model changed)",
                            self._start_over())
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(lora[k])
        load_optimizer_state(s.optimizer, state["optimizer"])
        s.lr_scheduler.load_state_dict(state["lr_scheduler"])
        scaler = getattr(s.accelerator, "scaler", None)
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.state = TrainState.from_dict(state["state"])
        for v in state.get("losses", []):
            self._losses.add(v)
        self.files = [Path(p) for p in state.get("files", [])]
