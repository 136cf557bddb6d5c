"""A one-row progress bar drawn at the width it has when it is painted (never a stale width, so the
percentage never runs over the bar after a resize). Updating it repaints one line, no layout."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui_lora.tui.common.progress_text import progress_bar


class BarLine(Widget):
    DEFAULT_CSS = """
    BarLine {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.step, self.total = 0, 0

    def show(self, step: int, total: int) -> None:
        if (step, total) != (self.step, self.total):
            self.step, self.total = step, total
            self.refresh()

    def render(self) -> Text:
        return progress_bar(self.step, self.total, max(8, self.content_size.width))
