"""The wizard app: opens the start screen or a project, moves between steps, reports errors.

Step screens are created once per open project and kept (installed), so going back and
forth keeps what was typed; what is valid is also saved to project.toml when a screen is
left. See navigation.py for the steps and common/base.py for how workers report errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tui_lora.tui.errors import describe, log_exception
from tui_lora.tui.navigation import STEP_INDEX, STEPS, available, load_screen_class, neighbour

if TYPE_CHECKING:
    from tui_lora.core.project import Project  # loaded by whoever opens one, not by the start screen


class WizardApp(App[int]):
    TITLE = "tui-lora"
    ENABLE_COMMAND_PALETTE = False  # its ctrl+p is our "previous step"; every action has a key
    CSS = """
    Toast {
        max-width: 70;
    }
    """
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, project: Project | None = None, *, frozen: bool = False) -> None:
        """``frozen``: no cursor blink and no clock in the UI (snapshot tests)."""
        super().__init__()
        self.project = project
        self.frozen = frozen
        self._step_screens: dict[str, Screen] = {}
        self.gpu_report = None  # tui_lora.core.gpu.GpuReport once detected (shared by screens)
        self.is_demo = False  # the open project is a `tui-lora demo` one: every screen says so

    def on_mount(self) -> None:
        if self.project is not None:
            project, self.project = self.project, None
            self.open_project(project)
        else:
            self.show_start()

    # ----- projects and steps -------------------------------------------------------------------
    def show_start(self) -> None:
        from tui_lora.tui.start.screen import StartScreen

        self._commit_all()
        self.is_demo = False
        self.title = "tui-lora"
        self._replace(StartScreen())

    def action_show_start(self) -> None:
        self.show_start()

    def open_project(self, project: Project, *, step: str = "project", offer_monitor: bool = True) -> None:
        """Make ``project`` the open one and show ``step``; offer to watch a run that is going on."""
        from tui_lora.core.userconfig import remember_project

        from tui_lora.tui import demo_session

        self._commit_all()
        self._drop_step_screens()
        self.project = project
        self.is_demo = demo_session.prepare(project)
        self.title = "tui-lora · DEMO" if self.is_demo else "tui-lora"
        remember_project(project.root)
        self.goto(step)
        if offer_monitor and step != "train":
            self.screen.run_worker(self._find_running_job(project), exclusive=True, group="job-detect",
                                   exit_on_error=False)

    async def _find_running_job(self, project: Project) -> None:
        import asyncio

        from tui_lora.core.jobs import job_status

        status = await asyncio.to_thread(job_status, project)
        if not status.running or project is not self.project or getattr(self.screen, "STEP_ID", None) == "train":
            return  # nothing going on, another project by now, or already watching it
        from tui_lora.tui.common.confirm import ConfirmScreen

        s = status.summary
        where = (f"step {s.step}/{s.total_steps}, epoch {s.epoch}/{s.epochs}" if s.state == "running"
                 and s.total_steps else "starting")
        question = f"A training run is going on for {project.name} ({where}). Watch it now?"

        def answered(yes: bool | None) -> None:
            if yes and project is self.project:
                self.goto("train")

        self.push_screen(ConfirmScreen(question, yes="Monitor", no="Not now"), answered)

    def goto(self, step_id: str) -> None:
        step = STEP_INDEX[step_id]
        if self.project is None:
            self.notify("Open or create a project first (n: new, o: open a folder).", severity="warning")
            return
        if not available(step):
            self.notify(step.coming, title=f"{step.label}: coming soon", severity="information")
            return
        screen = self._step_screens.get(step_id)
        if screen is None:
            screen = load_screen_class(step)()
            self._step_screens[step_id] = screen
            self.install_screen(screen, name=f"step-{step_id}")
        if screen is not self.screen:
            self._commit(self.screen)
            self._replace(screen)

    def action_goto_index(self, index: int) -> None:
        self.goto(STEPS[index - 1].id)

    def action_step(self, direction: int) -> None:
        current = getattr(self.screen, "STEP_ID", None) or "project"
        if self.project is None:
            return
        target = neighbour(current, direction)
        if target is None:
            self.notify("That is the last step." if direction > 0 else "That is the first step.")
        else:
            self.goto(target.id)

    def back_from(self, step_id: str | None) -> None:
        """Escape: the previous available step; from the first step, the start screen."""
        if step_id is None or self.project is None:
            return
        target = neighbour(step_id, -1)
        if target is None:
            self.show_start()
        else:
            self.goto(target.id)

    def _replace(self, screen: Screen) -> None:
        # The stack holds one wizard screen (plus modals): replace it, keeping installed ones alive.
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) < 2:
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def _drop_step_screens(self) -> None:
        for screen in self._step_screens.values():
            self.uninstall_screen(screen)
            if screen not in self.screen_stack:
                screen.remove()  # one still on the stack is removed when it is switched away
        self._step_screens.clear()

    # ----- saving ------------------------------------------------------------------------------
    def _commit(self, screen: Screen) -> None:
        commit = getattr(screen, "commit", None)
        if commit is not None:
            try:
                commit()
            except Exception as exc:  # noqa: BLE001 - a failed save is reported, never fatal
                self.show_error(exc)

    def _commit_all(self) -> None:
        for screen in self._step_screens.values():
            self._commit(screen)

    async def action_quit(self) -> None:
        self._commit_all()
        self.exit(0)

    # ----- errors ------------------------------------------------------------------------------
    def show_error(self, error: BaseException) -> None:
        """One sentence for a UserError, one line + a log file for anything else."""
        self.notify(describe(error, getattr(self.screen, "STEP_ID", None)), severity="error", timeout=10, markup=False)

    def _fatal_error(self) -> None:
        # Textual would print a full traceback on exit; log it and leave one line instead.
        error = self._exception
        path = log_exception(error) if error is not None else None
        detail = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        where = f"details are in {path}" if path else "no log could be written"
        self._exit_renderables.append(Text(f"error: the wizard stopped unexpectedly ({detail}); {where}, please report it."))
        self._close_messages_no_wait()


def run_wizard(project: Project | None = None) -> int:
    from tui_lora.tui.common import images

    images.finish_detection()  # before Textual owns the terminal (see common/images.py)
    app = WizardApp(project)
    app.run()
    return app.return_code or 0
