"""The Train step: follows the project's run from logs/events.jsonl and logs/train.log.

A reader thread (toolong-style) polls the files through :class:`~tui_lora.tui.monitor.RunMonitor`
and posts :class:`RunUpdated` only when something changed; a queued RunUpdated is replaced by a
newer one (``can_replace``), so a burst of step events costs one redraw and an idle run none.
Starting and stopping a job go through tui/jobs.py, the one seam the jobs issue fills in.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_lora.core.gpu import GpuReport, detect_gpus
from tui_lora.tui import jobs
from tui_lora.tui.format import duration, short_path
from tui_lora.tui.monitor import RunMonitor, Snapshot
from tui_lora.tui.screens.base import WizardScreen
from tui_lora.tui.widgets.log_tail import LogTail
from tui_lora.tui.widgets.loss_chart import LossChart
from tui_lora.tui.widgets.progress_text import progress_bar

GPU_EVERY_S = 10.0


class RunUpdated(Message):
    """The run changed; only the newest snapshot matters, so a newer one replaces a queued one."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunUpdated)


class GpuSampled(Message):
    def __init__(self, report: GpuReport) -> None:
        super().__init__()
        self.report = report

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpuSampled)


class TrainScreen(WizardScreen):
    STEP_ID = "train"
    HELP_TITLE = "Train"
    HELP_INTRO = (
        "Follows the project's training run, whoever started it: the wizard, `tui-lora train`, or a "
        "wizard that has since closed. The curve is the loss smoothed over recent steps: it should "
        "drift down and flatten; a curve that shoots up means the learning rate is too high. "
        "avg is the trainer's running average over the epoch; ETA is the trainer's estimate. Each saved "
        "epoch is a LoRA file you can compare later. Quitting the wizard never stops a run."
    )
    HELP_ITEMS = ("training.max_train_epochs", "output.save_every_n_epochs", "sample.sample_every_n_epochs")

    POLL_S = 0.5  # at most two redraws a second, whatever the trainer's step rate

    DEFAULT_CSS = """
    TrainScreen #train-status {
        height: auto;
        max-height: 3;
        padding: 0 1;
    }
    TrainScreen #train-progress {
        height: 1;
        padding: 0 1;
    }
    TrainScreen #train-lower {
        height: 1fr;
        min-height: 5;
    }
    TrainScreen #train-saves {
        width: 36;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TrainScreen #train-jobs {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: Snapshot | None = None
        self.gpu: GpuReport | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Reading logs/events.jsonl…", id="train-status", markup=False)
        yield Static("", id="train-progress")
        yield LossChart(id="loss")
        with Horizontal(id="train-lower"):
            yield Static("", id="train-saves")
            yield LogTail(id="log")
        if not jobs.JOBS_AVAILABLE:
            yield Static(jobs.JOBS_UNAVAILABLE.replace("DIR", short_path(self.project.root)),
                         id="train-jobs", markup=False)

    def on_mount(self) -> None:
        self.query_one("#train-saves").border_title = "saved epochs"
        self.query_one("#train-progress").display = False
        self.follow(self.project)

    # ----- the reader thread ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="monitor", exit_on_error=False)
    def follow(self, project) -> None:
        worker = get_current_worker()
        monitor = RunMonitor(project)
        next_gpu = 0.0
        while not worker.is_cancelled:
            snap = monitor.poll()
            if snap is not None:
                self.post_message(RunUpdated(snap))
            if monitor.running and time.monotonic() >= next_gpu:
                next_gpu = time.monotonic() + GPU_EVERY_S
                report = detect_gpus()
                if report.gpus:
                    self.post_message(GpuSampled(report))
                else:
                    next_gpu = float("inf")  # no GPU here: do not ask again
            time.sleep(self.POLL_S)

    # ----- rendering -----------------------------------------------------------------------------
    def on_run_updated(self, message: RunUpdated) -> None:
        # Touch only what changed, and without a layout pass where sizes are fixed: a layout pass
        # repaints the whole screen, which over SSH costs ten times the bytes of the changed lines.
        previous, self.snapshot = self.snapshot, message.snapshot
        snap = message.snapshot
        s = snap.summary
        was = previous.summary if previous else None
        new_state = was is None or (was.state, previous.running) != (s.state, snap.running)
        self.query_one("#train-status", Static).update(self._status(snap), layout=new_state)
        bar = self.query_one("#train-progress", Static)
        if bar.display != (s.total_steps > 0):
            bar.display = s.total_steps > 0
        bar.update(progress_bar(s.step, s.total_steps, bar.content_size.width or 76), layout=False)
        self.query_one(LossChart).show(snap.smoothed, s)
        if was is None or (len(was.saves), len(was.samples)) != (len(s.saves), len(s.samples)):
            self.query_one("#train-saves", Static).update(self._saves(snap), layout=False)
        self.query_one(LogTail).show(snap.log_lines)
        if previous is not None:
            self._notify_changes(previous, snap)

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self.gpu = message.report
        if self.snapshot is not None:
            self.query_one("#train-status", Static).update(self._status(self.snapshot))

    def _notify_changes(self, before: Snapshot, after: Snapshot) -> None:
        a, b = before.summary, after.summary
        for warning in b.warnings[len(a.warnings):]:
            self.notify(warning, title="Training warning", severity="warning", markup=False)
        if b.state != a.state or b.final_path != a.final_path:
            if b.state == "finished":
                self.notify(f"Saved {short_path(b.final_path or '')}.", title="Training finished", markup=False)
            elif b.state == "failed":
                self.notify(b.error or "see logs/train.log", title="Training failed", severity="error",
                            timeout=15, markup=False)

    def _status(self, snap: Snapshot) -> Text:
        s = snap.summary
        t = Text(overflow="ellipsis")
        if s.state == "none":
            t.append("No training run yet for this project. Check 5 Steps first.", style="dim")
        elif s.state == "running" and snap.running:
            t.append("● training", style="bold green")
            t.append(f" on {s.device or '?'} · epoch {s.epoch}/{s.epochs} · step {s.step}/{s.total_steps}")
            t.append(f" · {duration(_elapsed(s))} in")
            gpu = self.gpu.largest if self.gpu else None
            if gpu is not None and gpu.memory_used_gb is not None:
                t.append(f" · VRAM {gpu.memory_used_gb:.1f}/{gpu.memory_total_gb:.0f} GB")
        elif s.state == "running":
            t.append(f"Stopped at step {s.step}/{s.total_steps} without finishing (no news since). ", style="yellow")
            t.append(f"Resume it with tui-lora train {short_path(self.project.root)} --resume.")
        elif s.state == "finished":
            t.append("✓ finished", style="bold green")
            t.append(f": {s.step} steps in {duration(_elapsed(s))} · {short_path(s.final_path or '')}")
        else:
            t.append("✗ failed: ", style="bold red")
            t.append(s.error or "see logs/train.log")
        return t

    def _saves(self, snap: Snapshot) -> Text:
        s = snap.summary
        t = Text(no_wrap=True, overflow="ellipsis")
        if not s.saves:
            t.append("none yet", style="dim")
        for ev in s.saves[-50:]:
            t.append(f"{ev.get('epoch', '?'):>3}  ", style="bold")
            t.append(f"{Path(str(ev.get('path', ''))).name}\n")
        if s.samples:
            last = s.samples[-1]
            t.append(f"\nlatest sample (epoch {last.get('epoch', '?')}):\n", style="dim")
            t.append(self._rel(str(last.get("path", ""))))
        t.rstrip()
        return t

    def _rel(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.project.root))
        except ValueError:
            return short_path(path)


def _elapsed(s) -> float | None:
    if s.started is None or s.updated is None:
        return None
    return s.updated - s.started
