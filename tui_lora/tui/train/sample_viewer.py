"""The Train step's latest sample image as large as the terminal allows (v on Train).

It only draws: the picture comes from the Train screen's thumbnail loader on its own channel, and
the screen tells it about a newer sample (:meth:`SampleViewer.show`) while it is open.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import ThumbLoader, ThumbRequest


class SampleViewer(ModalScreen[None]):
    TITLE_TEXT = "Sample image"
    HELP_TEXT = ("The latest sample the training rendered from the sample prompts, as large as the terminal "
                 "allows. A newer sample replaces it while it is open. esc, v or q closes it.")

    DEFAULT_CSS = """
    SampleViewer {
        align: center middle;
    }
    SampleViewer > Vertical {
        width: 100%;
        height: 100%;
        border: round $accent;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    SampleViewer ImagePreview > #pv-area {
        height: 1fr;
    }
    SampleViewer ImagePreview > #pv-scroll {
        height: auto;
        max-height: 3;
    }
    SampleViewer #sample-keys {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape,enter,q,v", "close", "Close", show=False)]

    def __init__(self, loader: ThumbLoader, want: Callable[[list[ThumbRequest], str], None], item: Item,
                 details: Text, title: str) -> None:
        super().__init__()
        self._loader, self._want = loader, want
        self._first = (item, details, title)

    def compose(self) -> ComposeResult:
        with Vertical(id="sample-box"):
            yield ImagePreview(self._loader, self._want, channel="viewer", id="sample-full")
            yield Static("esc close · F1 help", id="sample-keys", markup=False)

    def on_mount(self) -> None:
        self.show(*self._first)

    def show(self, item: Item, details: Text, title: str) -> None:
        self.query_one("#sample-box").border_title = title
        self.query_one(ImagePreview).show(item, details)

    def pictures_ready(self, keys: set[str]) -> None:
        self.query_one(ImagePreview).pictures_ready(keys)

    def action_close(self) -> None:
        self.dismiss(None)
