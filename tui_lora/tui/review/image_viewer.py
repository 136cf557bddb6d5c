"""The selected image as large as the terminal allows, with its caption and problems.

Keys act on the review grid behind it: ← → flip through the current view, space marks, d moves
the image to the trash and x fixes it, without leaving the preview.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_lora.tui.common.image_preview import ImagePreview

if TYPE_CHECKING:
    from tui_lora.tui.review.screen import ReviewScreen


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
        Binding("left,up", "flip(-1)", "Previous", show=False),
        Binding("right,down", "flip(1)", "Next", show=False),
        Binding("space", "review('mark')", "Mark", show=False),
        Binding("d,delete", "review('trash')", "Trash", show=False),
        Binding("x", "review('fix')", "Fix", show=False),
        Binding("question_mark", "review('help')", "Help", show=False),
    ]

    def __init__(self, review: "ReviewScreen") -> None:
        super().__init__()
        self.review = review

    def compose(self) -> ComposeResult:
        with Vertical():
            yield ImagePreview(self.review.loader, self.review.want_thumbs, channel="viewer", id="viewer")
            yield Static("←/→ previous/next · space mark · d trash · x fix · esc close", id="viewer-keys",
                         markup=False)

    def on_mount(self) -> None:
        self.refresh_item()

    def refresh_item(self) -> None:
        item = self.review.grid.current
        if item is None:
            self.dismiss(None)
            return
        self.query_one(ImagePreview).show(item, self.review.details_of(item))

    def pictures_ready(self, keys: set[str]) -> None:
        self.query_one(ImagePreview).pictures_ready(keys)

    def action_flip(self, step: int) -> None:
        self.review.grid.action_move(step, 0)
        self.refresh_item()

    def action_review(self, what: str) -> None:
        if what == "help":
            self.review.action_help()
            return
        getattr(self.review, f"action_{what}")()
        self.refresh_item()

    def action_close(self) -> None:
        self.dismiss(None)
