"""The Train step's job keys: s starts (or starts over, after asking), r resumes, x stops gracefully and f
forces a stop, each through core.jobs in a worker thread that answers with :class:`JobActed`, so the UI
never waits on a start or on a stop's save. A stop that outlasts ``FORCE_AFTER_S`` posts
:class:`StopSlow`, which offers Force stop. A mixin of TrainScreen (screen.py), kept apart so that screen
stays about following and drawing the run; the sweep's start (sweep_actions.py) answers with JobActed too.
"""

from __future__ import annotations

import time

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from tui_lora.core.errors import UserError
from tui_lora.tui.common.fixes import say
from tui_lora.tui.train import train_text


class JobActed(Message):
    """A start, stop or force stop finished (``error`` when it was refused or failed)."""

    def __init__(self, kind: str, error: BaseException | None = None) -> None:
        super().__init__()
        self.kind, self.error = kind, error


class StopSlow(Message):
    """A graceful stop has not ended within FORCE_AFTER_S: offer Force stop."""


class JobActions:
    """Needs the screen's ``snapshot``, ``busy``, ``project``, ``sweep_mode``, ``start_sweep``,
    ``check_action``, ``_set_busy``, ``_wake``, ``FORCE_AFTER_S``, ``wizard`` and ``notify``."""

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
