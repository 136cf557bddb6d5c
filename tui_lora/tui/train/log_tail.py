"""The last lines of logs/train.log, as many as fit."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.widgets import Static


class LogTail(Static):
    DEFAULT_CSS = """
    LogTail {
        width: 1fr;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("no log yet", style="dim"), id=id)
        self._lines: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.border_title = "logs/train.log"

    def show(self, lines: tuple[str, ...]) -> None:
        if lines == self._lines:
            return
        self._lines = lines
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self._lines:
            self.update(Text("no log yet", style="dim"))
            return
        rows = max(1, self.content_size.height or 1)
        width = max(10, self.content_size.width or 40)
        # Long lines wrap (a command or a path is never cut off); the last rows that fit are shown.
        wrapped: list[str] = []
        for line in self._lines[-rows:]:
            wrapped += textwrap.wrap(line, width, break_on_hyphens=False) or [""]
        # A fixed-size box: no layout pass needed (that would repaint the whole screen).
        self.update(Text("\n".join(wrapped[-rows:]), no_wrap=True, overflow="crop"), layout=False)
