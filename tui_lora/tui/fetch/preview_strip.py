"""The pictures of a search's first posts, in a row above the table: what the tags bring, seen before
downloading hundreds of images.

The screen hands it the posts (:meth:`PreviewStrip.show`) and, as each preview file arrives from the
site (fetched by the screen's worker through core.booru.previews), its path
(:meth:`PreviewStrip.arrived`). The cells draw through a ThumbLoader like the Review grid: kitty /
sixel pictures, half-blocks, or a text stand-in where there is no terminal (tests, snapshots).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal

from tui_lora.tui.common import images
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_cell import ThumbCell
from tui_lora.tui.common.thumb_loader import ThumbLoader, ThumbRequest

CELLS = 8  # posts shown; the narrow terminal shows the first that fit
CELL_WIDTH = 14  # columns per picture at least (a 150 px thumbnail in half-blocks is about 14×7)


class PreviewStrip(Horizontal):
    DEFAULT_CSS = """
    PreviewStrip {
        height: 25%;
        min-height: 7;
        max-height: 16;
        margin: 0 1;
    }
    PreviewStrip > ThumbCell {
        width: 1fr;
        min-width: 12;
        height: 1fr;
    }
    """

    def __init__(self, loader: ThumbLoader, request: Callable[[list[ThumbRequest], str], None], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.loader = loader
        self.request = request
        self.items: list[Item | None] = [None] * CELLS
        self.post_ids: list[int] = []

    def compose(self) -> ComposeResult:
        for i in range(CELLS):
            yield ThumbCell(i)

    def on_mount(self) -> None:
        self.display = False  # until a search brings posts
        self._fit()

    def on_resize(self) -> None:
        self._fit()
        self._ask()

    def _fit(self) -> None:
        """As many cells as fit at CELL_WIDTH columns each; the others are hidden."""
        fits = max(1, (self.size.width or 80) // CELL_WIDTH)
        for i, cell in enumerate(self.query(ThumbCell)):
            visible = i < fits
            if cell.display != visible:
                cell.display = visible

    @property
    def cells(self) -> list[ThumbCell]:
        return list(self.query(ThumbCell))

    def show(self, posts: list[Any]) -> None:
        """The posts of a new search (their pictures follow); an empty list empties the row."""
        self.post_ids = [p.id for p in posts[:CELLS]]
        self.items = [None] * CELLS
        for i, cell in enumerate(self.cells):
            post = posts[i] if i < len(posts) else None
            # Until its file arrives a cell says which post it is; a post without one keeps that.
            self.items[i] = None if post is None else Item(key=f"post-{post.source}-{post.id}",
                                                           path=Path(f"{post.id}.jpg"), name=f"#{post.id}")
            cell.show(self.items[i], marked=False, cursor=False)
        self.display = bool(posts)

    def arrived(self, post_id: int, path: Path | None) -> None:
        if post_id not in self.post_ids or path is None:
            return
        i = self.post_ids.index(post_id)
        self.items[i] = Item(key=f"preview:{path}", path=path, name=f"#{post_id}")
        self.cells[i].show(self.items[i], marked=False, cursor=False, picture=self._picture(self.items[i]))
        self._ask()

    def _box(self, cell: ThumbCell) -> tuple[int, int]:
        px_w, px_h = images.cell_pixels()
        width, height = cell.size.width - 1, cell.size.height - 2  # (its padding and label)
        return max(1, width) * px_w, max(1, height) * px_h

    def _picture(self, item: Item | None) -> Any:
        if item is None or not item.path.is_file():
            return None
        cell = self.cells[self.items.index(item)]
        return self.loader.get(item.thumb_key, self._box(cell))

    def _ask(self) -> None:
        wanted = [ThumbRequest(item.thumb_key, item.path, None, self._box(cell))
                  for item, cell in zip(self.items, self.cells)
                  if item is not None and item.path.is_file() and cell.display and cell.size.area]
        if wanted:
            self.request(wanted, "grid")

    def pictures_ready(self, keys: set[str]) -> None:
        for item, cell in zip(self.items, self.cells):
            if item is not None and item.thumb_key in keys:
                cell.display_picture(self._picture(item))
