"""Where a sweep stands: every variant done / running step s of S / queued / stopped / failed, read
from the manifest, each variant's run record and events, and the project's job lock (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_lora.core import joblock
from tui_lora.core.errors import Namer, Notice, neutral_name
from tui_lora.core.events import RunSummary, read_events, summarize
from tui_lora.core.sweep.manifest import SweepManifest, read_manifest
from tui_lora.core.sweep.variant import VariantProject
from tui_lora.core.train.record import read_record

if TYPE_CHECKING:
    from tui_lora.core.project import Project

VARIANT_STATES = ("queued", "running", "done", "stopped", "failed")
SWEEP_STATES = ("running", "stopped", "finished", "failed")


@dataclass
class VariantStatus:
    label: str
    describe: str  # "lr 5e-4, dim 16"
    state: str  # one of VARIANT_STATES
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None  # the running average, else the last step's loss
    message: Notice | None = None  # why it failed (with its fix), or where it resumes
    resumable: bool = False  # stopped with a saved state: --resume continues it
    files: list[str] = field(default_factory=list)
    final: str | None = None
    losses: list[float] = field(default_factory=list)  # every step's loss, for a curve
    summary: RunSummary | None = field(default=None, repr=False)  # its events, read as the Train screen reads a run

    @property
    def progress(self) -> str:
        if self.state == "done":
            return f"done, {self.step} steps"
        if self.state == "queued":
            return "queued"
        if self.total_steps:
            return f"{self.state} step {self.step}/{self.total_steps}"
        return "running: loading" if self.state == "running" else self.state

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        return {"label": self.label, "describe": self.describe, "state": self.state, "step": self.step,
                "total_steps": self.total_steps, "epoch": self.epoch, "epochs": self.epochs, "loss": self.loss,
                "message": self.message.text(name) if self.message else None, "resumable": self.resumable,
                "files": self.files, "final": self.final}


@dataclass
class SweepStatus:
    state: str  # one of SWEEP_STATES
    manifest: SweepManifest
    variants: list[VariantStatus]
    pid: int | None = None
    detached: bool = False

    @property
    def running(self) -> bool:
        return self.state == "running"

    def count(self, state: str) -> int:
        return sum(1 for v in self.variants if v.state == state)

    @property
    def pending(self) -> list[VariantStatus]:
        """What ``--resume`` would train: everything not done."""
        return [v for v in self.variants if v.state != "done"]

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        return {"state": self.state, "pid": self.pid, "detached": self.detached, "gpus": self.manifest.gpus,
                "varied": self.manifest.varied_keys, "variants": [v.to_dict(name) for v in self.variants],
                **{state: self.count(state) for state in VARIANT_STATES}}


def is_sweep_lock(info: joblock.LockInfo | None) -> bool:
    """Whether the project's job lock is held by a sweep (rather than a single training)."""
    return info is not None and "sweep" in info.command[:4]


def variant_status(project: Project, manifest: SweepManifest, label: str, *, sweep_running: bool) -> VariantStatus:
    variant = manifest.variant(label)
    view = VariantProject.of(project, label)
    record = read_record(view)
    summary = summarize(read_events(view.events_path))
    describe = variant.describe() if variant else label
    out = VariantStatus(label, describe, "queued", summary.step, summary.total_steps, summary.epoch, summary.epochs,
                        summary.avg_loss if summary.avg_loss is not None else summary.loss,
                        files=[str(e.get("path")) for e in summary.saves], final=summary.final_path,
                        losses=list(summary.losses), summary=summary)
    if record is None:
        return out
    out.resumable = record.resumable
    if record.status == "finished":
        out.state, out.step = "done", max(out.step, record.step)
    elif record.status == "running":
        if sweep_running:
            out.state = "running"
        else:  # the sweep's process is gone (killed, machine restarted) while this variant trained
            out.state = "stopped"
            out.message = Notice("interrupted" + (f"; resumes from step {record.step}" if record.resumable else ""))
    else:
        out.state = "failed" if record.status == "failed" else "stopped"
        out.message = record.message if record.status == "failed" else Notice(
            f"resumes from step {record.step}" if record.resumable else "starts over (nothing was saved)")
    if out.state != "running" and record.resumable:
        out.step = record.step
    return out


def sweep_status(project: Project) -> SweepStatus | None:
    """The project's sweep (None when it never had one)."""
    manifest = read_manifest(project)
    if manifest is None:
        return None
    lock = joblock.live_lock(project)
    running = is_sweep_lock(lock)
    variants = [variant_status(project, manifest, v.label, sweep_running=running) for v in manifest.variants]
    if running:
        state = "running"
    elif all(v.state == "done" for v in variants):
        state = "finished"
    elif all(v.state in ("done", "failed") for v in variants):
        state = "failed"
    else:
        state = "stopped"
    return SweepStatus(state, manifest, variants, pid=lock.pid if running and lock else None,
                       detached=bool(lock.detached) if running and lock else False)


def latest_is_sweep(project: Project, sweep: SweepStatus) -> bool:
    """Whether the project's latest job is its sweep (running now, or started after the last training)."""
    if sweep.running:
        return True
    if joblock.live_lock(project) is not None:
        return False  # a training runs now
    record = read_record(project)
    return record is None or record.started <= sweep.manifest.created
