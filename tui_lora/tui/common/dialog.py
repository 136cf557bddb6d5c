"""A small modal form: a title, the subclass's body, and its keys (enter or ^s applies, esc cancels).

The Tags screen's merge, trigger, junk, pattern, caption and history dialogs are subclasses;
each dismisses with what to do (or None), and the screen runs it in a worker.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class Dialog(ModalScreen):
    TITLE_TEXT = ""
    KEYS_TEXT = "enter apply · esc cancel"

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > #dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    Dialog #dialog-title {
        text-style: bold;
        height: 1;
    }
    Dialog .dialog-text {
        height: auto;
        margin-bottom: 1;
    }
    Dialog .dialog-dim {
        height: auto;
        color: $text-muted;
    }
    Dialog .dialog-error {
        height: auto;
        color: $error;
    }
    Dialog #dialog-keys {
        height: 1;
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "apply", "Apply", show=False, priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.TITLE_TEXT, id="dialog-title", markup=False)
            yield from self.compose_dialog()
            yield Static(self.KEYS_TEXT, id="dialog-keys", markup=False)

    def compose_dialog(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # Textual calls this as well as a subclass's own on_mount (it walks the MRO): no super() there.
        if getattr(self.app, "frozen", False):
            for i in self.query(Input):
                i.cursor_blink = False

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
