"""The last lines of logs/train.log, as many as fit."""

from __future__ import annotations

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
        text-wrap: nowrap;
        text-overflow: ellipsis;
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
        # A fixed-size box: no layout pass needed (that would repaint the whole screen).
        self.update(Text("\n".join(self._lines[-rows:]), no_wrap=True, overflow="ellipsis"), layout=False)
