"""The larger picture of the selected item with its facts, caption and problems.

Used twice: beside the grid (``ImagePreview``) and full screen (review/image_viewer.py). The
picture comes from the same thumbnail loader as the grid, on its own channel, so the grid's
requests never push it out; in text mode it is the same fixed stand-in as a grid cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui_lora.tui.common import images
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import FAILED, ThumbLoader, ThumbRequest


def placeholder(item: Item, failed: bool = False) -> Text:
    """What text mode (and a picture that does not decode) shows: format and size, fixed text."""
    t = Text(justify="center", no_wrap=True, overflow="ellipsis")
    r = item.record
    if item.entry is not None and r is None:
        t.append(item.entry.reason, style="dim")
    elif not item.is_image:
        t.append("caption\nwithout image", style="dim")
    elif failed or (r is not None and not r.readable):
        t.append("✗ does not\ndecode", style="red")
    elif r is not None:
        t.append(f"{(r.format or r.path.suffix.lstrip('.')).upper()}\n", style="dim")
        t.append(f"{r.width}×{r.height}")
    else:  # a file the scan never saw (a training sample): its format is all there is to say
        t.append(item.path.suffix.lstrip(".").upper() or "image", style="dim")
    return t


class ImagePreview(Widget):
    DEFAULT_CSS = """
    ImagePreview {
        layout: vertical;
        height: 1fr;
    }
    ImagePreview > #pv-area {
        height: 45%;
        min-height: 4;
        align: center middle;
    }
    ImagePreview > #pv-area > Static {
        width: 1fr;
        height: auto;
        content-align: center middle;
    }
    ImagePreview > #pv-scroll {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, loader: ThumbLoader, request: Callable[[list[ThumbRequest], str], None], *,
                 channel: str = "preview", id: str | None = None) -> None:
        super().__init__(id=id)
        self.loader = loader
        self.request = request
        self.channel = channel
        self.item: Item | None = None
        self._details: Text = Text()
        self._picture = None
        self._widget_class = images.widget_class()

    def compose(self) -> ComposeResult:
        with Container(id="pv-area"):
            yield Static("", id="pv-text", markup=False)
            if self._widget_class is not None:
                yield self._widget_class(id="pv-picture")
        with VerticalScroll(id="pv-scroll", can_focus=False):
            yield Static("", id="pv-details", markup=False)

    def on_mount(self) -> None:
        if self._widget_class is not None:
            self.query_one("#pv-picture").display = False

    def show(self, item: Item | None, details: Text) -> None:
        changed = item is not self.item or details.plain != self._details.plain
        self.item, self._details = item, details
        if not changed:
            return
        self.query_one("#pv-details", Static).update(details)
        self.query_one("#pv-scroll", VerticalScroll).scroll_home(animate=False)
        self._picture = None
        self._draw()
        self._ask()

    def on_resize(self) -> None:
        self._picture = None
        self._draw()
        self._ask()

    def _box(self) -> tuple[int, int]:
        area = self.query_one("#pv-area").size
        px_w, px_h = images.cell_pixels()
        return max(1, area.width) * px_w, max(1, area.height) * px_h

    def _ask(self) -> None:
        item = self.item
        if item is None or not item.readable or self._widget_class is None:
            return
        if self.query_one("#pv-area").size.area == 0:
            self.call_after_refresh(self._ask)  # not laid out yet
            return
        self.request([ThumbRequest(item.thumb_key, item.path, item.sha256, self._box())], self.channel)

    def pictures_ready(self, keys: set[str]) -> None:
        if self.item is not None and self.item.thumb_key in keys:
            self._draw()

    def _draw(self) -> None:
        item = self.item
        text = self.query_one("#pv-text", Static)
        picture = self.loader.get(item.thumb_key, self._box()) if item is not None and self._widget_class else None
        if item is None or picture is None or picture is FAILED or self._widget_class is None:
            if item is None:
                text.update("")
            elif self._widget_class is not None and picture is None and item.readable:
                text.update(Text("loading…", style="dim", justify="center"))
            else:
                text.update(placeholder(item, failed=picture is FAILED))
            text.display = True
            if self._widget_class is not None:
                self.query_one("#pv-picture").display = False
            return
        widget = self.query_one("#pv-picture")
        if picture is not self._picture:
            px_w, px_h = images.cell_pixels()
            widget.styles.width = max(1, math.ceil(picture.width / px_w))
            widget.styles.height = max(1, math.ceil(picture.height / px_h))
            widget.image = picture
            self._picture = picture
        text.display = False
        widget.display = True
