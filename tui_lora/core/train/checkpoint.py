"""Resume state on disk, and the bookkeeping that keeps it in step with the run.

:class:`StateKeeper` is attached to a :class:`~.trainer.Trainer` by :func:`.run.train_project`:
after every epoch it writes ``state/checkpoint-<step>.pt`` (LoRA weights, optimizer, scheduler,
grad scaler, RNG states, counters — :meth:`Trainer.state_dict`) and then ``state/state.json``
(:mod:`.record`) pointing at it; on a stop it also saves the current LoRA. Only the main process
writes. Checkpoints load with ``torch.load(weights_only=True)``: no pickled code runs on resume.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import FreeDisk, Fix, Notice, RunAction, UserError
from tui_lora.core.fsutil import atomic_open
from tui_lora.core.train.guards import TrainingDiverged, diverged_message, tensors_finite
from tui_lora.core.train.record import RunRecord, dataset_fingerprint, read_record, write_record

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.core.train.trainer import Trainer


def _portable(state: dict[str, Any]) -> dict[str, Any]:
    """numpy's RNG state holds an ndarray, which weights_only loading refuses: store it as a tensor."""
    import torch

    rng = dict(state["rng"])
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    rng["numpy"] = [str(name), torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss)]
    return {**state, "rng": rng}


def _native(state: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    rng = dict(state["rng"])
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    rng["numpy"] = (name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss)
    python = rng["python"]
    rng["python"] = (python[0], tuple(python[1]), python[2])
    return {**state, "rng": rng}


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:08d}.pt"


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save a :meth:`Trainer.state_dict` atomically (the previous checkpoint survives a full disk)."""
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(_portable(state), fh)


def read_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, foreign or corrupt: all mean "cannot resume from it"
        raise UserError(f"The saved training state {path} cannot be read ({type(exc).__name__})",
                        Fix("start over with {}", RunAction("train.restart"))) from None
    return _native(state)


def remove_leftovers(state_dir: Path) -> None:
    """Delete half-written checkpoints (``.checkpoint-*.pt.*.tmp``) that a kill during a save left; only
    called by the process that holds the training lock, so no other save can be under way."""
    for p in Path(state_dir).glob(".checkpoint-*.pt.*.tmp"):
        if p.is_file() and not p.is_symlink():
            with contextlib.suppress(OSError):
                p.unlink()


def remove_checkpoints(state_dir: Path, keep: str | None = None) -> None:
    for p in Path(state_dir).glob("checkpoint-*.pt"):
        if p.name != keep:
            with contextlib.suppress(OSError):
                p.unlink()


class StateKeeper:
    """Writes the run's record and checkpoints for one :class:`Trainer` (see module docstring)."""

    def __init__(self, trainer: Trainer, project: Project, record: RunRecord) -> None:
        self.trainer = trainer
        self.project = project
        self.record = record
        self.main = bool(trainer.s.accelerator.is_main_process)
        self._files_seen = len(trainer.files)

    @classmethod
    def attach(cls, trainer: Trainer, project: Project, *, overrides: list[str], resume: bool,
               gpus: int = 1) -> StateKeeper:
        """Load the checkpoint when resuming (else start a new record), and hook into the epochs."""
        s = trainer.s
        if trainer.s.accelerator.is_main_process:
            remove_leftovers(project.state_dir)
        previous = read_record(project)
        if resume:
            record = previous
            if record is None or record.checkpoint is None:
                raise UserError(f"There is no saved training state to resume in {project.state_dir}",
                                Fix("start the training with {}", RunAction("train.start", str(project.root))))
            trainer.load_state_dict(read_checkpoint(Path(project.state_dir) / record.checkpoint))
            record.status, record.message = "running", None
        else:
            provisional = previous is not None and previous.status == "running" and previous.checkpoint is None
            record = RunRecord(started=previous.started) if provisional else RunRecord()
            if trainer.s.accelerator.is_main_process:
                remove_checkpoints(project.state_dir)
        images, captions = dataset_fingerprint(project, s.settings)
        record.overrides, record.gpus = list(overrides), gpus
        record.settings, record.dataset, record.captions = s.settings.to_dict(), images, captions
        record.total_steps, record.epochs = s.total_steps, s.epochs
        keeper = cls(trainer, project, record)
        keeper._write()
        trainer.epoch_end_hooks.append(keeper.on_epoch_end)
        return keeper

    # ----- writing ----------------------------------------------------------------------------
    def _write(self) -> None:
        if self.main:
            write_record(self.project, self.record)

    def _note_files(self) -> None:
        if len(self.trainer.files) > self._files_seen:
            self._files_seen = len(self.trainer.files)
            self.record.file_step = self.trainer.state.global_step

    def save_checkpoint(self) -> None:
        """Checkpoint the trainer as it is now (unless it already is), then point the record at it."""
        t = self.trainer
        step = t.state.global_step
        if not self.main or (self.record.checkpoint and self.record.step == step) or step == 0:
            return
        state = t.state_dict()
        if not tensors_finite(state["lora"]):
            raise TrainingDiverged.from_notice(self.diverged("the LoRA weights"))
        name = checkpoint_name(step)
        state_dir = Path(self.project.state_dir)
        try:
            write_checkpoint(state_dir / name, state)
        except OSError as exc:
            root = str(self.project.root)
            failed = f"Cannot write the training state to {state_dir} ({exc.strerror or exc})"
            if self.record.checkpoint is None:  # nothing to resume from: say so, not "the last state is kept"
                raise UserError(f"{failed}; no state had been saved yet",
                                Fix("{}, then start the training again with {}", FreeDisk(str(state_dir)),
                                    RunAction("train.start", root))) from None
            raise UserError(f"{failed}; the state of step {self.record.step} is kept",
                            Fix("{}, then resume with {}", FreeDisk(str(state_dir)),
                                RunAction("train.resume", root))) from None
        self.record.checkpoint, self.record.step, self.record.epoch = name, step, t.state.epoch
        self._write()
        remove_checkpoints(state_dir, keep=name)

    def diverged(self, what: str) -> Notice:
        s, t = self.trainer.s, self.trainer
        last = str(t.files[-1]) if t.files else None
        return diverged_message(what=what, step=t.state.global_step, epoch=t.state.epoch + 1, settings=s.settings,
                                family=s.family, mixed_precision=s.mixed_precision, last_good=last)

    # ----- events of the run --------------------------------------------------------------------
    def on_epoch_end(self, trainer: Trainer, epoch: int, last: bool) -> None:
        self._note_files()
        if not last:
            self.save_checkpoint()

    def finished(self) -> None:
        self._note_files()
        self.record.status, self.record.message = "finished", None
        self.record.checkpoint, self.record.step = None, self.trainer.state.global_step
        self.record.epoch = self.trainer.state.epoch
        self._write()
        if self.main:
            remove_checkpoints(self.project.state_dir)

    def stopped(self) -> Notice:
        """Save the LoRA as it is (unless a file of this step exists) and the state; returns the warning."""
        t = self.trainer
        step = t.state.global_step
        if step > (self.record.file_step or 0):
            t.save(self.project.output_dir / f"{self.project.output_name}-step{step:08d}.safetensors",
                   epoch=t.state.epoch)
            self._note_files()
        self.save_checkpoint()
        message = stop_message(self.project, step, self.record.total_steps, t.state.epoch, self.record.epochs,
                               resumable=self.record.checkpoint is not None)
        self.mark("stopped", message)
        return message

    def mark(self, status: str, message: Notice | None) -> None:
        self.record.status, self.record.message = status, message
        self._write()


def stop_message(project: Project, step: int, total: int, epoch: int, epochs: int, *, resumable: bool) -> Notice:
    root = str(project.root)
    if not resumable:
        return Notice("Training stopped before anything was saved",
                      Fix("start it again with {}", RunAction("train.start", root)))
    return Notice(f"Training stopped at step {step} of {total} ({epoch} of {epochs} epochs done)",
                  Fix("continue it with {}", RunAction("train.resume", root)))


def main_process_by_env() -> bool:
    """Before accelerate is up: launchers (torchrun, accelerate launch) set RANK for every process."""
    return os.environ.get("RANK", "0") == "0"
