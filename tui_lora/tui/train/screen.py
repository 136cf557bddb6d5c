"""The Train step: starts, stops and resumes the project's training, and follows the run from
logs/events.jsonl, logs/train.log and the job's lock, whoever started it.

A sweep (variants of the settings, issue 17) is started here too (w, a small form) and shown as a list
of its variants with their progress and loss (sweep_panel.py, sweep_monitor.py) whenever it is the
project's latest job.

Training runs as a detached process (:func:`tui_lora.core.jobs.start_job`): quitting the wizard
leaves it running and reopening re-attaches from the files. A reader thread (toolong-style) polls
them through :class:`~tui_lora.tui.train.monitor.RunMonitor` and posts :class:`RunUpdated` only when
something changed; a queued RunUpdated is replaced by a newer one (``can_replace``), so a burst of
step events costs one redraw and an idle run none. Starting and stopping run in worker threads:
a graceful stop waits for the step and the save, and the UI never waits with it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_lora.core.errors import UserError
from tui_lora.core.gpu import GpuReport, detect_gpus
from tui_lora.tui.common.bar_line import BarLine
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import ThumbLoader, ThumbRequest
from tui_lora.tui.common.fixes import say
from tui_lora.tui.navigation import STEP_INDEX, available
from tui_lora.tui.train import train_text
from tui_lora.tui.train.log_tail import LogTail
from tui_lora.tui.train.loss_chart import LossChart
from tui_lora.tui.train.monitor import RunMonitor, Snapshot
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


class JobActed(Message):
    """A start, stop or force stop finished (``error`` when it was refused or failed)."""

    def __init__(self, kind: str, error: BaseException | None = None) -> None:
        super().__init__()
        self.kind, self.error = kind, error


class StopSlow(Message):
    """A graceful stop has not ended within FORCE_AFTER_S: offer Force stop."""


class SampleReady(Message):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SampleReady)


class TrainScreen(SweepActions, WizardScreen):
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

    # ----- actions -----------------------------------------------------------------------------------
    def action_start(self) -> None:
        self._set_busy(train_text.STARTING)
        self.start_run(resume=False, restart=False)

    def action_start_over(self) -> None:
        from tui_lora.tui.common.confirm import ConfirmScreen

        assert self.snapshot is not None
        question = train_text.start_question(self.project, self.snapshot.earlier)

        def answered(yes: bool | None) -> None:
            if yes and self.check_action("start_over", ()):
                self._set_busy(train_text.STARTING)
                self.start_run(resume=False, restart=True)

        self.app.push_screen(ConfirmScreen(question, yes="Start over", no="Cancel"), answered)

    def action_resume(self) -> None:
        self._set_busy(train_text.STARTING)
        if self.sweep_mode:
            self.start_sweep(None, resume=True, restart=False)
        else:
            self.start_run(resume=True, restart=False)

    def action_stop(self) -> None:
        self._set_busy(train_text.STOPPING)
        self.stop_run(self.FORCE_AFTER_S)

    def action_force_stop(self) -> None:
        self.force_stop_run()

    def action_compare(self) -> None:
        self.wizard.goto("compare")

    def action_view_sample(self) -> None:
        from tui_lora.tui.train.sample_viewer import SampleViewer

        shown = self._sample_item()
        if shown is None or self.loader is None:
            return
        self.viewer = SampleViewer(self.loader, self.want_sample, *shown)
        self.app.push_screen(self.viewer, lambda _: setattr(self, "viewer", None))

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def start_run(self, *, resume: bool, restart: bool) -> None:
        from tui_lora.core.jobs import start_job

        try:
            start_job(self.project, resume=resume, restart=restart)
        except Exception as exc:  # noqa: BLE001 - a refusal's sentence (or a logged surprise) as a notification
            self.post_message(JobActed("start", exc))
        else:
            self.post_message(JobActed("start"))

    @work(thread=True, exclusive=True, group="stop", exit_on_error=False)
    def stop_run(self, wait_s: float) -> None:
        from tui_lora.core.jobs import is_running, stop_job

        worker = get_current_worker()
        try:
            # SIGTERM, then wait here in short slices: quitting the wizard mid-stop must not wait for the
            # save (the trainer finishes its stop on its own).
            result = stop_job(self.project, timeout=0.5)
            deadline, slow = time.monotonic() + wait_s, False
            while result.was_running and is_running(self.project) and not worker.is_cancelled:
                if not slow and time.monotonic() >= deadline:
                    slow = True
                    self.post_message(StopSlow())
                time.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the screen, never a traceback
            self.post_message(JobActed("stop", exc))
        else:
            self.post_message(JobActed("stop"))

    @work(thread=True, exclusive=True, group="force", exit_on_error=False)
    def force_stop_run(self) -> None:
        from tui_lora.core.jobs import stop_job

        try:
            stop_job(self.project, timeout=1.0, force=True)
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the screen, never a traceback
            self.post_message(JobActed("force", exc))
        else:
            self.post_message(JobActed("force"))

    def on_stop_slow(self, _: StopSlow) -> None:
        if self.busy == train_text.STOPPING:
            self._set_busy(train_text.STOPPING_SLOW)

    def on_job_acted(self, message: JobActed) -> None:
        if isinstance(message.error, UserError):
            self.notify(say(message.error, self.STEP_ID), severity="error", timeout=10, markup=False)
        elif message.error is not None:
            self.wizard.show_error(message.error)
        self._set_busy(None)
        self._wake.set()

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

    # ----- the latest sample image -----------------------------------------------------------------
    def _show_sample(self, event: dict | None) -> None:
        if event == self.sample:
            return  # only a new sample event changes the picture, not every step
        self.sample = event
        self.refresh_bindings()
        box = self.query_one("#train-sample", Vertical)
        box.display = event is not None
        shown = self._sample_item()
        if shown is None:
            self.query_one("#sample-preview", ImagePreview).show(None, Text())
            return
        item, details, _title = shown
        box.border_title = f"sample · epoch {self.sample.get('epoch', '?')}"
        self.query_one("#sample-preview", ImagePreview).show(item, details)
        if self.viewer is not None:
            self.viewer.show(*shown)

    def _sample_item(self) -> tuple[Item, Text, str] | None:
        event = self.sample
        if event is None:
            return None
        path = Path(str(event.get("path", "")))
        # The key names this event: a new run that rewrites the same file name gets a new picture.
        item = Item(key=f"{path}#{event.get('time', '')}", path=path, name=path.name)
        return item, Text(path.name, no_wrap=True, overflow="ellipsis"), f"sample · epoch {event.get('epoch', '?')}"

    def want_sample(self, requests: list[ThumbRequest], channel: str) -> None:
        if self.loader is not None and self.loader.want(requests, channel):
            self.load_sample()

    @work(thread=True, group="sample", exit_on_error=False)
    def load_sample(self) -> None:
        worker = get_current_worker()
        assert self.loader is not None
        self.loader.run(lambda: self.post_message(SampleReady()), lambda: worker.is_cancelled)

    def on_sample_ready(self, _: SampleReady) -> None:
        assert self.loader is not None
        ready = self.loader.take_ready()
        self.query_one("#sample-preview", ImagePreview).pictures_ready(ready)
        if self.viewer is not None:
            self.viewer.pictures_ready(ready)


def _keys_state(snap: Snapshot) -> tuple:
    """What decides which keys the footer shows."""
    return snap.status.state, train_text.resume_point(snap.status), bool(snap.earlier), bool(snap.status.files)

