"""The ``?`` panel: what each parameter on the current screen means, and the screen's keys."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_lora.tui.common.helptext import explain


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 100%;
        max-width: 90;
        height: 100%;
        max-height: 40;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        text-style: bold;
        height: 1;
    }
    HelpScreen VerticalScroll {
        height: 1fr;
    }
    HelpScreen #help-close {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", show=False),
        Binding("up,k", "scroll(-1)", show=False),
        Binding("down,j", "scroll(1)", show=False),
        Binding("pageup", "scroll(-10)", show=False),
        Binding("pagedown,space", "scroll(10)", show=False),
    ]

    def __init__(self, title: str, intro: str, items: tuple[str, ...], keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.intro = intro
        self.items = items
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Help: {self.title_text}", id="help-title", markup=False)
            with VerticalScroll(id="help-body"):
                yield Static(self._body(), id="help-text")
            yield Static("↑/↓ scroll · esc or ? close", id="help-close", markup=False)

    def _body(self) -> Text:
        t = Text()
        if self.intro:
            t.append(self.intro + "\n\n")
        for item in self.items:
            title, text = explain(item)
            t.append(title + "\n", style="bold")
            t.append(text + "\n\n")
        if self.keys:
            t.append("Keys\n", style="bold")
            for key, what in self.keys:
                t.append(f"  {key:<10}", style="bold")
                t.append(f" {what}\n")
        t.rstrip()
        return t

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)
