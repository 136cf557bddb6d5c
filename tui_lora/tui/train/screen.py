"""The Train step: starts, stops and resumes the project's training, and follows the run from
logs/events.jsonl, logs/train.log and the job's lock, whoever started it.

A sweep (variants of the settings, issue 17) is started here too (w, a small form) and shown as a list
of its variants with their progress and loss (sweep_panel.py, sweep_monitor.py) whenever it is the
project's latest job.

Training runs as a detached process (:func:`tui_lora.core.jobs.start_job`): quitting the wizard
leaves it running and reopening re-attaches from the files. A reader thread (toolong-style) polls
them through :class:`~tui_lora.tui.train.monitor.RunMonitor` and posts :class:`RunUpdated` only when
something changed; a queued RunUpdated is replaced by a newer one (``can_replace``), so a burst of
step events costs one redraw and an idle run none. Starting and stopping run in worker threads
(job_actions.py): a graceful stop waits for the step and the save, and the UI never waits with it.
The latest sample image and its full-screen view live in sample_actions.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_lora.core.gpu import GpuReport, detect_gpus
from tui_lora.tui.common.bar_line import BarLine
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.common.thumb_loader import ThumbLoader
from tui_lora.tui.common.fixes import say
from tui_lora.tui.navigation import STEP_INDEX, available
from tui_lora.tui.train import train_text
from tui_lora.tui.train.job_actions import JobActions
from tui_lora.tui.train.log_tail import LogTail
from tui_lora.tui.train.loss_chart import LossChart
from tui_lora.tui.train.monitor import RunMonitor, Snapshot
from tui_lora.tui.train.sample_actions import SampleActions
from tui_lora.tui.train.sweep_actions import SweepActions, SweepUpdated
from tui_lora.tui.train.sweep_monitor import SweepMonitor
from tui_lora.tui.train.sweep_panel import SweepPanel

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


class TrainScreen(JobActions, SampleActions, SweepActions, WizardScreen):
    STEP_ID = "train"
    HELP_TITLE = "Train"
    HELP_INTRO = (
        "Starts, stops and resumes the project's training, and follows the run whoever started it: this "
        "screen, `tui-lora train`, or a wizard that has since closed. Training runs in its own process: "
        "quitting the wizard never stops it, and reopening the project shows it again. s starts a run (Start "
        "over asks first when an earlier run left logs, a resume point or LoRA files); x stops after the "
        "current step, saving the LoRA and the resume state; r resumes a stopped run from that state. "
        "The curve is the loss smoothed over recent steps: it should drift down and flatten; a curve that "
        "shoots up means the learning rate is too high. avg is the trainer's running average over the "
        "epoch; ETA is the trainer's estimate. Each saved epoch is a LoRA file you can compare later; the "
        "latest sample image shows what the LoRA draws so far (set sample prompts in project.toml); v shows it "
        "as large as the terminal allows. The saved-files list names each file by its epoch, and the file a stop "
        "saved as 'stopped at step N' (only the newest such file is kept). "
        "w starts a sweep: every combination of the values you list for a few settings (learning rate, dim, "
        "alpha …) trains as a variant, one after another, each with its own files in output/sweep/; the "
        "screen then lists the variants with their progress and loss, x stops the running one (it saves), r "
        "resumes the sweep, and 7 Compare puts the variants side by side."
    )
    HELP_ITEMS = ("training.max_train_epochs", "output.save_every_n_epochs", "sample.sample_every_n_epochs")

    BINDINGS = [
        # Fewer step keys in the footer, so this screen's own keys fit at 80 columns.
        Binding("ctrl+p", "app.step(-1)", "Prev step", priority=True, show=False),
        Binding("ctrl+n", "app.step(1)", "Next step", priority=True, show=False),
        Binding("s", "start", "Start"),
        Binding("s", "start_over", "Start over"),
        Binding("r", "resume", "Resume"),
        Binding("w", "sweep", "Sweep"),
        Binding("x", "stop", "Stop"),
        Binding("f", "force_stop", "Force stop"),
        Binding("c", "compare", "Compare"),
        Binding("v", "view_sample", "View sample"),
    ]

    POLL_S = 0.5  # at most two redraws a second, whatever the trainer's step rate
    FORCE_AFTER_S = 30.0  # a graceful stop that takes longer than this offers Force stop

    DEFAULT_CSS = """
    TrainScreen #train-status {
        height: auto;
        padding: 0 1;
    }
    TrainScreen #train-progress {
        height: 1;
        padding: 0 1;
    }
    TrainScreen LossChart {
        height: 1fr;
        min-height: 7;
        max-height: 22;
    }
    TrainScreen #train-lower {
        height: 1.4fr;
        min-height: 5;
    }
    TrainScreen #train-saves {
        width: 25%;
        min-width: 31;
        max-width: 56;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TrainScreen #train-sample {
        width: 30%;
        min-width: 22;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
    }
    TrainScreen #train-sample ImagePreview > #pv-area {
        height: 1fr;
    }
    TrainScreen #train-sample ImagePreview > #pv-scroll {
        height: 1;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: Snapshot | None = None
        self.gpu: GpuReport | None = None
        self.busy: str | None = None  # train_text.STARTING / STOPPING / STOPPING_SLOW while a worker acts
        self.sample: dict | None = None  # the sample event on show
        self.loader: ThumbLoader | None = None
        self._wake = threading.Event()  # set to make the reader poll now (after a start or a stop)
        self.viewer = None  # the full-screen SampleViewer while it is open
        self.sweep = None  # the sweep's SweepSnapshot (sweep_actions.py), once the reader found one

    def compose_body(self) -> ComposeResult:
        self.loader = ThumbLoader(self.project, capacity=8)
        yield Static("Reading logs/events.jsonl…", id="train-status", markup=False)
        yield BarLine(id="train-progress")
        yield LossChart(id="loss")
        yield SweepPanel(id="sweep")
        with Horizontal(id="train-lower"):
            yield Static("", id="train-saves")
            with Vertical(id="train-sample"):
                yield ImagePreview(self.loader, self.want_sample, id="sample-preview")
            yield LogTail(id="log")

    def on_mount(self) -> None:
        self.query_one("#train-saves").border_title = "saved LoRA files"
        self.query_one("#train-sample").border_title = "latest sample"
        self.query_one("#train-sample").display = False
        self.query_one("#train-progress").display = False
        self.query_one("#sweep").display = False
        self.follow(self.project)

    # ----- which keys make sense now ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        snap = self.snapshot
        if action == "view_sample":
            return self.sample is not None
        if action not in ("start", "start_over", "resume", "stop", "force_stop", "compare", "sweep"):
            return True
        if snap is None:
            return False
        idle = not snap.running and self.busy is None
        if action == "sweep":
            return idle
        sweep = self.sweep.status if self.sweep_mode and self.sweep is not None else None
        if sweep is not None and action == "resume":
            return idle and sweep.state in ("stopped", "failed")
        if sweep is not None and action == "compare":
            return available(STEP_INDEX["compare"]) and sweep.count("done") > 0
        if action == "start":
            return idle and not snap.earlier
        if action == "start_over":
            return idle and bool(snap.earlier)
        if action == "resume":
            return idle and bool(train_text.resume_point(snap.status))
        if action == "stop":
            return snap.running and self.busy is None
        if action == "force_stop":
            return snap.running and self.busy == train_text.STOPPING_SLOW
        return available(STEP_INDEX["compare"]) and bool(snap.status.files)

    def _set_busy(self, busy: str | None) -> None:
        self.busy = busy
        self._draw_status()
        self.refresh_bindings()

    # ----- actions (start, stop and resume: job_actions.py; the sample: sample_actions.py) ------------
    def action_compare(self) -> None:
        self.wizard.goto("compare")

    # ----- the reader thread ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="monitor", exit_on_error=False)
    def follow(self, project) -> None:
        worker = get_current_worker()
        monitor = RunMonitor(project)
        sweeps = SweepMonitor(project)
        next_gpu = 0.0
        while not worker.is_cancelled:
            sweep = sweeps.poll()
            if sweep is not None:
                self.post_message(SweepUpdated(sweep))
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
            self._wake.wait(self.POLL_S)
            self._wake.clear()

    # ----- rendering -----------------------------------------------------------------------------
    def on_run_updated(self, message: RunUpdated) -> None:
        # Touch only what changed, and without a layout pass where sizes are fixed: a layout pass
        # repaints the whole screen, which over SSH costs ten times the bytes of the changed lines.
        previous, self.snapshot = self.snapshot, message.snapshot
        snap = message.snapshot
        s = snap.summary
        was = previous.summary if previous else None
        new_state = previous is None or (previous.status.state, was.state) != (snap.status.state, s.state)
        if self.busy is not None and not snap.running and self.busy != train_text.STARTING:
            self.busy = None  # stopped, whoever stopped it
        self._draw_status(layout=new_state)
        if previous is None or _keys_state(previous) != _keys_state(snap):
            self.refresh_bindings()
        if self.sweep_mode:
            return  # the events and files of the project's own training are not what is on show
        bar = self.query_one("#train-progress", BarLine)
        if bar.display != (s.total_steps > 0):
            bar.display = s.total_steps > 0
        bar.show(s.step, s.total_steps)
        # A run that is not going on has no ETA, whatever its last step said.
        self.query_one(LossChart).show(snap.smoothed, s if snap.running else dataclasses.replace(s, eta_s=None))
        if was is None or len(was.saves) != len(s.saves):
            self.query_one("#train-saves", Static).update(train_text.saves_text(s), layout=False)
        self._show_sample(s.samples[-1] if s.samples else None)
        self.query_one(LogTail).show(snap.log_lines)
        if previous is not None:
            self._notify_changes(previous, snap)

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self.gpu = message.report
        self._draw_status(layout=False)

    def _draw_status(self, layout: bool = True) -> None:
        if self.sweep_mode and self.sweep is not None and self.sweep.status is not None:
            from tui_lora.tui.train import sweep_text

            self.query_one("#train-status", Static).update(sweep_text.status_line(self.sweep.status, self.busy))
            return
        if self.snapshot is None:
            return
        text = train_text.status_line(self.snapshot, self.busy, self.gpu, self.FORCE_AFTER_S)
        self.query_one("#train-status", Static).update(text, layout=layout)

    def _notify_changes(self, before: Snapshot, after: Snapshot) -> None:
        for warning in after.summary.warnings[len(before.summary.warnings):]:
            if warning != after.status.message:  # a stop's reason: the notice below says it, once
                self.notify(say(warning, self.STEP_ID), title="Training warning", severity="warning", markup=False)
        notice = train_text.ended_notice(before, after)
        if notice is not None:
            title, text, severity = notice
            self.notify(text, title=title, severity=severity, timeout=15 if severity == "error" else 5,
                        markup=False)


def _keys_state(snap: Snapshot) -> tuple:
    """What decides which keys the footer shows."""
    return snap.status.state, train_text.resume_point(snap.status), bool(snap.earlier), bool(snap.status.files)

