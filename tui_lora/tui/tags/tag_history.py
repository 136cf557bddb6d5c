"""The caption history: every operation, newest first, and whether u can still undo it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.tags.tag_work import describe_history


class HistoryDialog(Dialog):
    """Dismisses with "undo" when u is pressed here, else None."""

    TITLE_TEXT = "Caption history (newest first)"
    KEYS_TEXT = "u undo the newest · esc close"
    BINDINGS = [Binding("escape,h,q", "cancel", "Close", show=False),
                Binding("u,ctrl+z", "undo", "Undo", show=False)]

    DEFAULT_CSS = """
    HistoryDialog VerticalScroll {
        height: auto;
        max-height: 16;
    }
    HistoryDialog #history-text {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, entries: list) -> None:
        super().__init__()
        self.entries = entries

    def compose_dialog(self) -> ComposeResult:
        t = Text(no_wrap=True, overflow="ellipsis")
        for e in self.entries[:200]:
            t.append(describe_history(e) + "\n", style="" if e.undoable else "dim")
        if not self.entries:
            t.append("No caption operation yet.", style="dim")
        t.rstrip()
        with VerticalScroll():
            yield Static(t, id="history-text")

    def action_undo(self) -> None:
        self.dismiss("undo")
