"""Edit one image's caption in a text area; ^s saves it (atomically, undoable), esc leaves it as it was."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, TextArea

from tui_lora.core.dataset.captions import format_tags, parse_tags
from tui_lora.core.dataset.tokens import approximate_tokens
from tui_lora.core.safepath import printable
from tui_lora.tui.common.dialog import Dialog


class CaptionEditor(Dialog):
    """Dismisses with the new caption text, or None."""

    KEYS_TEXT = "^s save · esc cancel · tags separated by commas"
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False),
                Binding("ctrl+s", "apply", "Save", show=False, priority=True)]

    DEFAULT_CSS = """
    CaptionEditor TextArea {
        height: 8;
    }
    """

    def __init__(self, image: Path, label: str, tags: list[str], limit: int) -> None:
        super().__init__()
        self.image, self.limit = image, limit
        self.TITLE_TEXT = f"Caption of {label}"
        self.initial = format_tags([printable(t) for t in tags])  # an escape sequence never reaches the screen

    def compose_dialog(self) -> ComposeResult:
        yield TextArea(self.initial, id="caption-text", soft_wrap=True, show_line_numbers=False,
                       tab_behavior="focus", compact=True)
        yield Static("", id="caption-count", classes="dialog-dim", markup=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        if getattr(self.app, "frozen", False):
            area.cursor_blink = False
        area.focus()
        area.move_cursor(area.document.end)
        self._count()

    @on(TextArea.Changed)
    def _count(self) -> None:
        tags = parse_tags(self.query_one(TextArea).text)
        tokens = approximate_tokens(format_tags(tags))
        over = f" — over the {self.limit} the trainer reads" if tokens > self.limit else f" of {self.limit}"
        self.query_one("#caption-count", Static).update(f"{len(tags)} tags · ≈ {tokens} tokens{over}")

    def action_apply(self) -> None:
        self.dismiss(self.query_one(TextArea).text)
