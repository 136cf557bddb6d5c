"""The selected image as large as the terminal allows, with its caption and problems.

Keys act on the review grid behind it: ← → flip through the current view, space marks, d moves
the image to the trash and x fixes it, without leaving the preview. The viewer only draws: it
hands each of those keys to the ``act`` callback its opener gave it ("previous", "next", "mark",
"trash", "fix", "help"), and the opener answers by calling :meth:`ImageViewer.show` with the item
to draw, or closes it when there is none left.
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

class ImageViewer(ModalScreen[None]):
    DEFAULT_CSS = """
    ImageViewer {
        align: center middle;
    }
    ImageViewer > Vertical {
        width: 100%;
        height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    ImageViewer ImagePreview > #pv-area {
        height: 1fr;
    }
    ImageViewer ImagePreview > #pv-scroll {
        height: auto;
        max-height: 8;
    }
    ImageViewer #viewer-keys {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape,enter,q,v", "close", "Close", show=False),
        Binding("left,up", "act('previous')", "Previous", show=False),
        Binding("right,down", "act('next')", "Next", show=False),
        Binding("space", "act('mark')", "Mark", show=False),
        Binding("d,delete", "act('trash')", "Trash", show=False),
        Binding("x", "act('fix')", "Fix", show=False),
        Binding("question_mark", "act('help')", "Help", show=False),
    ]

    def __init__(self, loader: ThumbLoader, want: Callable[[list[ThumbRequest], str], None],
                 act: Callable[[str], None], item: Item, details: Text) -> None:
        super().__init__()
        self._loader, self._want, self._act = loader, want, act
        self._first = (item, details)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield ImagePreview(self._loader, self._want, channel="viewer", id="viewer")
            yield Static("←/→ previous/next · space mark · d trash · x fix · esc close", id="viewer-keys",
                         markup=False)

    def on_mount(self) -> None:
        self.show(*self._first)

    def show(self, item: Item, details: Text) -> None:
        self.query_one(ImagePreview).show(item, details)

    def pictures_ready(self, keys: set[str]) -> None:
        self.query_one(ImagePreview).pictures_ready(keys)

    def action_act(self, what: str) -> None:
        self._act(what)

    def action_close(self) -> None:
        self.dismiss(None)
