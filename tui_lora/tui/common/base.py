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
from textual.widget import Widget
from textual.widgets import Input, Select, TextArea
from textual.worker import Worker, WorkerState

from tui_lora.tui.common.key_footer import KeyFooter
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


def is_field(widget: Widget | None) -> bool:
    """A widget that takes typed keys (so step keys and ? would land in it)."""
    return isinstance(widget, (Input, TextArea, Select))


class WizardScreen(Screen):
    """Base of the step screens. Subclasses set STEP_ID and the HELP_* texts and define compose_body.

    Where keys go (the same rule on every step): arriving never puts the cursor in a text field
    (a screen that is a form to fill first focuses its field itself, in :meth:`arrived`); esc in a
    field leaves it for :attr:`HOME` (the screen's list or grid, or nothing), and so does enter in a
    one-line field; step keys and ? act whenever no field has the cursor.
    """

    STEP_ID: str | None = None
    AUTO_FOCUS = ""  # (None would mean the app's "*": the first focusable widget, often a text field)
    HOME: str | None = None  # the widget a finished field edit returns the cursor to (None: no widget)
    LEAVES_FIELDS = True  # False for a form that is all fields (New project): there esc cancels the form
    HELP_TITLE = ""
    HELP_INTRO = ""
    HELP_ITEMS: tuple[str, ...] = ()  # settings keys or helptext.FIELDS names

    DEFAULT_CSS = """
    WizardScreen {
        layout: vertical;
    }
    WizardScreen .screen-title {
        height: auto;
        max-height: 2;
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
        Binding("question_mark", "help", "Help", key_display="?"),  # F1 too: the app's, on every screen
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
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    # ----- navigation ------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.LEAVES_FIELDS and is_field(self.focused):
            self.action_leave_field()
            return
        self.wizard.back_from(self.STEP_ID)

    def action_leave_field(self) -> None:
        """The cursor leaves the field for HOME (or nowhere), so keys act on the screen again."""
        home = self.query(self.HOME).first() if self.HOME else None
        if home is not None and home.focusable and not is_field(home):
            home.focus()
        else:
            self.set_focus(None)

    def arrived(self) -> None:
        """Called by the app when this (already mounted) step is shown again: a field that kept the
        cursor from the last visit gives it up."""
        if is_field(self.focused):
            self.action_leave_field()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Runs after a subclass's own handler (Textual calls every class's): enter ends the edit.
        if self.LEAVES_FIELDS and is_field(self.focused):
            self.action_leave_field()

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
