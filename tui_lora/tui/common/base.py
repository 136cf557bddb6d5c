"""What every wizard screen shares: the step bar, the footer, step keys, `?` help, and the one
handler through which worker errors reach the user.

Long work runs in ``@work(thread=True, exclusive=True, exit_on_error=False)`` methods that
return a value or post a typed Message. When such a worker fails, :meth:`on_worker_state_changed`
passes the exception to :meth:`worker_failed` (a screen shows it inline there and returns True)
or else to ``app.show_error``: a UserError's sentence as-is, anything else one line + a log file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tui_lora.tui.common.step_bar import StepBar

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.tui.app import WizardApp

STEP_KEYS = [Binding(str(i), f"app.goto_index({i})", show=False) for i in range(1, 8)]
# Screens shown before a project is open hide the step keys (they would only say "open a project").
NO_PROJECT_KEYS = [
    Binding("ctrl+p", "app.step(-1)", show=False, priority=True),
    Binding("ctrl+n", "app.step(1)", show=False, priority=True),
]


class WizardScreen(Screen):
    """Base of the step screens. Subclasses set STEP_ID and the HELP_* texts and define compose_body."""

    STEP_ID: str | None = None
    HELP_TITLE = ""
    HELP_INTRO = ""
    HELP_ITEMS: tuple[str, ...] = ()  # settings keys or helptext.FIELDS names

    DEFAULT_CSS = """
    WizardScreen {
        layout: vertical;
    }
    WizardScreen .screen-title {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    WizardScreen .body {
        height: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+p", "app.step(-1)", "Prev step", priority=True),
        Binding("ctrl+n", "app.step(1)", "Next step", priority=True),
        Binding("f1", "help", "Help", priority=True, show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        *STEP_KEYS,
    ]

    @property
    def wizard(self) -> "WizardApp":
        return self.app  # type: ignore[return-value]

    @property
    def project(self) -> "Project":
        project = self.wizard.project
        assert project is not None, "step screens exist only while a project is open"
        return project

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP_ID or "project", has_project=self.wizard.project is not None,
                      demo=self.wizard.project is not None and self.wizard.is_demo)
        yield from self.compose_body()
        yield Footer(show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    # ----- navigation ------------------------------------------------------------------------
    def action_back(self) -> None:
        self.wizard.back_from(self.STEP_ID)

    def commit(self) -> None:
        """Write what was entered to disk (called when leaving the screen and before quitting)."""

    # ----- help ------------------------------------------------------------------------------
    def action_help(self) -> None:
        from tui_lora.tui.common.help import HelpScreen

        keys = [(b.key_display or _key_name(b.key), b.description) for b in self._help_bindings()]
        self.app.push_screen(HelpScreen(self.HELP_TITLE or type(self).__name__, self.HELP_INTRO,
                                        self.HELP_ITEMS, keys))

    def _help_bindings(self) -> list[Binding]:
        seen, out = set(), []
        for active in self.active_bindings.values():
            binding = active.binding
            if binding.description and binding.description not in seen:
                seen.add(binding.description)
                out.append(binding)
        return out

    # ----- errors ----------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            if not self.worker_failed(event.worker, event.worker.error):
                self.wizard.show_error(event.worker.error)

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        """Show ``error`` inline and return True, or return False for a notification."""
        return False


def _key_name(key: str) -> str:
    return key.split(",")[0].replace("ctrl+", "^")
