"""The first results of a booru search: id, rating, score, size and tags, one post per row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

if TYPE_CHECKING:
    from tui_lora.core.booru import Post

COLUMNS = (("id", 8), ("rating", 12), ("score", 5), ("size", 9))


class BooruPreview(DataTable):
    """A read-only table (not focusable: tab goes from field to field)."""

    DEFAULT_CSS = """
    BooruPreview {
        height: 1fr;
        min-height: 3;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, show_cursor=False, zebra_stripes=False, cursor_type="none")
        self.can_focus = False

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width, key=label)
        self.add_column("tags", key="tags")

    def on_resize(self) -> None:
        self._fit_tags_column()

    def show(self, posts: list["Post"]) -> None:
        self.clear()
        self._fit_tags_column()
        width = self._tags_width()
        for p in posts:
            size = f"{p.width}×{p.height}" if p.width and p.height else "?"
            score = "" if p.score is None else str(p.score)
            tags = Text(p.caption(), no_wrap=True, overflow="ellipsis")
            tags.truncate(width, overflow="ellipsis")
            self.add_row(str(p.id), p.rating or "?", Text(score, justify="right"), size, tags, key=str(p.id))

    def _tags_width(self) -> int:
        used = sum(w + 2 * self.cell_padding for _, w in COLUMNS) + 2 * self.cell_padding + 1
        return max(10, (self.size.width or 78) - used)

    def _fit_tags_column(self) -> None:
        column = self.columns.get("tags")  # type: ignore[call-overload]
        if column is not None:
            column.auto_width = False
            column.width = self._tags_width()
