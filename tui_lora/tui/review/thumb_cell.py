"""One cell of the review grid: a picture (or its text stand-in) above a one-line label.

Cells are recycled: the grid keeps only as many as fit on screen and hands each a different
item as you scroll. :meth:`ThumbCell.show` compares what it would draw with what it drew and
touches nothing when they match, so moving the cursor repaints two cells, not the page.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

from tui_lora.core.dataset.checks import Severity
from tui_lora.tui.common import images
from tui_lora.tui.common.image_preview import placeholder
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import FAILED


def label(item: Item, marked: bool, width: int) -> Text:
    """``●✗ name``: the mark, the worst problem (✗ error, ! warning, ★ suggested keeper), the name."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("●" if marked else " ", style="bold yellow")
    if item.keeper:
        t.append("★", style="bold green")
    elif item.severity is Severity.ERROR:
        t.append("✗", style="bold red")
    elif item.severity is Severity.WARNING:
        t.append("!", style="bold yellow")
    else:
        t.append(" ")
    t.append(middle(item.name, max(3, width - 2)))
    return t


def middle(name: str, width: int) -> str:
    """``safebooru_10…3.png``: cut in the middle so the extension and the start both show."""
    if len(name) <= width:
        return name
    tail = max(4, width // 3)
    return name[: width - tail - 1] + "…" + name[-tail:]


class CellLabel(Widget):
    """The label line: rendered at its own width, so a resize re-cuts the name by itself."""

    DEFAULT_CSS = """
    CellLabel {
        height: 1;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="label")
        self.item: Item | None = None
        self.marked = False

    def set(self, item: Item | None, marked: bool) -> None:
        self.item, self.marked = item, marked
        self.refresh()

    def render(self) -> Text:
        if self.item is None:
            return Text("")
        return label(self.item, self.marked, max(4, self.size.width))


class ThumbCell(Widget):
    DEFAULT_CSS = """
    ThumbCell {
        width: 1fr;
        height: 1fr;
        padding: 0 1 1 0;
    }
    ThumbCell > #area {
        height: 1fr;
        align: center middle;
    }
    ThumbCell > #area > Static {
        width: 1fr;
        height: auto;
        content-align: center middle;
    }
    ThumbCell > #label {
        height: 1;
    }
    ThumbCell.-odd > #area {
        background: $panel;
    }
    ThumbCell.-cursor > #area {
        background: $accent 25%;
    }
    ThumbCell.-cursor > #label {
        background: $accent;
        color: $text;
        text-style: bold;
    }
    ThumbCell.-marked > #label {
        background: $warning 30%;
    }
    ThumbCell.-cursor.-marked > #label {
        background: $warning 70%;
    }
    """

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.item: Item | None = None
        self._drawn: tuple | None = None
        self._picture = None  # the PIL image shown, or FAILED / None
        self._widget_class = images.widget_class()

    def compose(self) -> ComposeResult:
        with Container(id="area"):
            yield Static("", id="text", markup=False)
            if self._widget_class is not None:
                yield self._widget_class(id="picture")
        yield CellLabel()

    def on_mount(self) -> None:
        self._show_picture(False)

    # ----- drawing -----------------------------------------------------------------------------------
    def show(self, item: Item | None, *, marked: bool, cursor: bool, picture=None) -> None:
        """Draw ``item`` (None: an empty cell); ``picture`` is its loaded thumbnail if any."""
        state = (item.key if item else None, id(item), marked, cursor, id(picture))
        if state == self._drawn:
            return
        self._drawn = state
        self.item = item
        self.set_class(cursor, "-cursor")
        self.set_class(marked, "-marked")
        self.set_class(item is not None and item.group is not None and item.group % 2 == 1, "-odd")
        self.query_one(CellLabel).set(item, marked)
        if item is None:
            self.display_picture(None)
            self.query_one("#text", Static).update("")
            return
        self.display_picture(picture)

    def display_picture(self, picture) -> None:
        item = self.item
        text = self.query_one("#text", Static)
        if item is None:
            self._show_picture(False)
            return
        if self._widget_class is None or picture is None or picture is FAILED:
            if self._widget_class is not None and picture is None and item.readable:
                text.update(Text("…", style="dim", justify="center"))  # loading
            else:
                text.update(placeholder(item, failed=picture is FAILED))
            self._show_picture(False)
            self._picture = picture
            return
        if picture is not self._picture:
            widget = self.query_one("#picture")
            px_w, px_h = images.cell_pixels()
            widget.styles.width = max(1, math.ceil(picture.width / px_w))
            widget.styles.height = max(1, math.ceil(picture.height / px_h))
            widget.image = picture
        self._picture = picture
        self._show_picture(True)

    def _show_picture(self, on: bool) -> None:
        text = self.query_one("#text", Static)
        if text.display == on:
            text.display = not on
        if self._widget_class is not None:
            widget = self.query_one("#picture")
            if widget.display != on:
                widget.display = on
