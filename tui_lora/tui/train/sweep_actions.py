"""The Train step's sweep: w opens the sweep form (sweep_form.py) and starts the sweep as a detached job
(core.sweep.job, what `tui-lora sweep --detach` runs), r resumes a stopped one, and while the sweep is
the project's latest job its variants replace the run's progress, files and log (sweep_panel.py) and the
chart follows the variant that trains. Mixed into the Train screen, which owns the reader thread that
posts :class:`SweepUpdated`."""

from __future__ import annotations

import dataclasses

from textual import work
from textual.message import Message

from tui_lora.tui.train import train_text
from tui_lora.tui.train.job_actions import JobActed
from tui_lora.tui.train.loss_chart import LossChart
from tui_lora.tui.train.sweep_monitor import SweepSnapshot
from tui_lora.tui.train.sweep_panel import SweepPanel


class SweepUpdated(Message):
    def __init__(self, snapshot: SweepSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SweepUpdated)


class SweepActions:
    """Needs the screen's ``sweep``, ``snapshot``, ``busy``, ``project``, ``check_action``, ``_set_busy``,
    ``_draw_status``, ``query_one``, ``notify`` and ``refresh_bindings``."""

    @property
    def sweep_mode(self) -> bool:
        """The project's latest job is its sweep: the screen shows the variants, r resumes the sweep."""
        return self.sweep is not None and self.sweep.latest

    def action_sweep(self) -> None:
        from tui_lora.tui.train.sweep_form import SweepDialog

        self.app.push_screen(SweepDialog(self.project), self._sweep_chosen)

    def _sweep_chosen(self, varies: list[str] | None) -> None:
        from tui_lora.core.sweep.spec import MAX_WITHOUT_CONFIRM, count_variants, parse_varies
        from tui_lora.tui.common.confirm import ConfirmScreen

        if not varies or not self.check_action("sweep", ()):
            return
        count = count_variants(parse_varies(varies))
        waiting = self.sweep is not None and self.sweep.status is not None and self.sweep.status.state == "stopped"
        questions = []
        if count > MAX_WITHOUT_CONFIRM:
            questions.append(f"This sweep trains {count} variants, each a full training.")
        if waiting:
            questions.append("The stopped sweep's files move to output/previous-sweeps/ and it can no longer be "
                             "resumed.")
        if not questions:
            self._set_busy(train_text.STARTING)
            self.start_sweep(varies, resume=False, restart=False)
            return

        def answered(yes: bool | None) -> None:
            if yes and self.check_action("sweep", ()):
                self._set_busy(train_text.STARTING)
                self.start_sweep(varies, resume=False, restart=waiting, confirmed=True)

        question = " ".join(questions) + " Start it?"
        self.app.push_screen(ConfirmScreen(question, yes="Start the sweep", no="Cancel"), answered)

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def start_sweep(self, varies: list[str] | None, *, resume: bool, restart: bool, confirmed: bool = False) -> None:
        from tui_lora.core.sweep import parse_varies
        from tui_lora.core.sweep.job import start_sweep_job

        try:
            start_sweep_job(self.project, varies=parse_varies(varies) if varies else None, resume=resume,
                            restart=restart, confirmed=confirmed)
        except Exception as exc:  # noqa: BLE001 - a refusal's sentence (or a logged surprise) as a notification
            self.post_message(JobActed("start", exc))
        else:
            self.post_message(JobActed("start"))

    def on_sweep_updated(self, message: SweepUpdated) -> None:
        from tui_lora.tui.train import sweep_text
        from tui_lora.tui.train.monitor import SMOOTHING, MAX_POINTS, downsample

        before, self.sweep = self.sweep, message.snapshot
        mode = self.sweep_mode
        if before is None or before.latest != mode:
            # The sweep's list takes the place of the run's progress bar, files, sample and log.
            self.query_one("#sweep").display = mode
            self.query_one("#train-lower").display = not mode
            self.query_one("#train-progress").display = not mode and bool(
                self.snapshot and self.snapshot.summary.total_steps)
        status = message.snapshot.status
        if mode and status is not None:
            self.query_one(SweepPanel).show(status)
            focus = sweep_text.focus_variant(status)
            if focus is not None and focus.summary is not None:
                ema: list[float] = []
                for loss in focus.losses:
                    ema.append(loss if not ema else ema[-1] + SMOOTHING * (loss - ema[-1]))
                summary = focus.summary if focus.state == "running" else dataclasses.replace(focus.summary, eta_s=None)
                self.query_one(LossChart).show(tuple(downsample(ema, MAX_POINTS)), summary)
                self.query_one(LossChart).border_title = f"loss of {focus.label} (smoothed)"
            self._notify_sweep(before.status if before else None, status)
        if self.busy is not None and status is not None and not status.running and self.busy != train_text.STARTING:
            self.busy = None
        self._draw_status()
        if before is None or _sweep_keys(before) != _sweep_keys(message.snapshot):
            self.refresh_bindings()  # the footer redraws only when its keys change, not on every step

    def _notify_sweep(self, before, after) -> None:
        if before is None or not before.running or after.running:
            return
        title = {"finished": "Sweep finished", "stopped": "Sweep stopped", "failed": "Sweep ended"}[after.state]
        from tui_lora.tui.train.sweep_text import counts

        self.notify(f"{counts(after)}.", title=title, severity="error" if after.state == "failed" else "information",
                    markup=False)

def _sweep_keys(snap: SweepSnapshot) -> tuple:
    """What of a sweep decides which keys the footer shows."""
    st = snap.status
    return snap.latest, st.state if st else None, st.count("done") if st else 0
