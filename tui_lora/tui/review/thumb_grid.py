"""The review grid, virtualised: only the cells that fit on screen exist.

A dataset of 1,000 images is a list of rows of :class:`Item`; the grid mounts ``cols × visible``
:class:`ThumbCell` widgets once (again only when the terminal is resized or the zoom changes)
and, as the cursor moves, hands each cell the item now in its place. A cell redraws only when
its item, mark or cursor state changed. Thumbnails are asked for the visible cells and the
next page only (see common/thumb_loader.py), so scrolling costs the same with 50 images or 5,000.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui_lora.tui.common import images
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import ThumbLoader, ThumbRequest
from tui_lora.tui.review.thumb_cell import ThumbCell

# Smallest cell per zoom level, in terminal cells (width, height): the grid stretches cells to
# fill its width and height, so at 80×24 with the preview open the middle size gives 3 × 2.
ZOOMS = ((12, 6), (16, 8), (24, 12))


class ThumbGrid(Widget, can_focus=True):
    DEFAULT_CSS = """
    ThumbGrid {
        layout: horizontal;
        height: 1fr;
    }
    ThumbGrid > #cells {
        layout: grid;
        width: 1fr;
        height: 1fr;
    }
    ThumbGrid > #scroll {
        width: 1;
        height: 1fr;
    }
    ThumbGrid > #empty {
        width: 1fr;
        height: 1fr;
        padding: 1 2;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "activate", "Preview", show=False),
    ]

    class CursorMoved(Message):
        def __init__(self, item: Item | None) -> None:
            super().__init__()
            self.item = item

    class Activated(Message):
        """Enter or a double click on a cell."""

        def __init__(self, item: Item) -> None:
            super().__init__()
            self.item = item

    def __init__(self, loader: ThumbLoader, request: Callable[[list[ThumbRequest], str], None], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.loader = loader
        self.request = request  # asks the screen to load thumbnails (it owns the worker)
        self.rows: list[list[Item]] = []
        self.marked: set[str] = set()
        self.zoom = 1
        self.empty_text = "Nothing here."
        self._builder: Callable[[int], list[list[Item]]] = lambda cols: []
        self._cells: list[ThumbCell] = []
        self._cols = 0
        self._visible = 0
        self._box = (1, 1)
        self.top = 0
        self.row = 0
        self.col = 0
        self._scroll_drawn: tuple | None = None
        self._last_item: Item | None = None

    def compose(self) -> ComposeResult:
        yield Container(id="cells")
        yield Static("", id="scroll")
        yield Static("", id="empty", markup=False)

    def on_mount(self) -> None:
        self.query_one("#empty").display = False

    # ----- content -----------------------------------------------------------------------------------
    def set_content(self, builder: Callable[[int], list[list[Item]]], *, empty: str = "Nothing here.",
                    keep: str | None = None, new_view: bool = False) -> None:
        """Show ``builder(cols)``'s rows. The cursor stays on ``keep`` (default: the current item) if it
        is there; else at the same place (after a removal: on the next item), or the first for a new view."""
        key = keep if keep is not None else (self.current.key if self.current else None)
        flat = 0 if new_view else self._flat_index()
        self._builder = builder
        self.empty_text = empty
        self.rows = builder(max(1, self._cols))
        keys = {it.key for row in self.rows for it in row}
        self.marked &= keys
        if not self._place(key):
            self._place_flat(flat)
        self._refresh_all()

    @property
    def current(self) -> Item | None:
        if 0 <= self.row < len(self.rows) and 0 <= self.col < len(self.rows[self.row]):
            return self.rows[self.row][self.col]
        return None

    @property
    def items(self) -> list[Item]:
        return [it for row in self.rows for it in row]

    def position(self) -> tuple[int, int]:
        """(1-based index of the cursor's item, number of items)."""
        return self._flat_index() + 1 if self.current else 0, sum(len(r) for r in self.rows)

    def _flat_index(self) -> int:
        return sum(len(r) for r in self.rows[: self.row]) + self.col

    def _place(self, key: str | None) -> bool:
        if key is None:
            return False
        for r, row in enumerate(self.rows):
            for c, it in enumerate(row):
                if it.key == key:
                    self.row, self.col = r, c
                    return True
        return False

    def _place_flat(self, index: int) -> None:
        n = sum(len(r) for r in self.rows)
        index = max(0, min(index, n - 1))
        for r, row in enumerate(self.rows):
            if index < len(row):
                self.row, self.col = r, index
                return
            index -= len(row)
        self.row = self.col = 0

    def select(self, key: str) -> bool:
        if self._place(key):
            self._refresh_all()
            return True
        return False

    # ----- marks -------------------------------------------------------------------------------------
    def toggle_mark(self) -> None:
        item = self.current
        if item is not None:
            self.marked ^= {item.key}
            self.refill()

    def mark_all(self) -> bool:
        """Mark every item, or clear the marks when all are marked; True when now all marked."""
        keys = {it.key for it in self.items}
        self.marked = set() if keys and keys <= self.marked else keys
        self.refill()
        return bool(self.marked)

    def selection(self) -> list[Item]:
        """The marked items, or the one under the cursor when nothing is marked."""
        marked = [it for it in self.items if it.key in self.marked]
        if marked:
            return marked
        return [self.current] if self.current else []

    # ----- moving ------------------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        if not self.rows:
            return
        if dy:
            self.row = max(0, min(len(self.rows) - 1, self.row + dy))
            self.col = min(self.col, len(self.rows[self.row]) - 1)
        elif dx:
            self._place_flat(self._flat_index() + dx)
        self._refresh_all()

    def action_page(self, direction: int) -> None:
        self.action_move(0, direction * max(1, self._visible))

    def action_jump(self, where: int) -> None:
        if self.rows:
            self._place_flat(0 if where == 0 else 1 << 62)
            self._refresh_all()

    def _keep_cursor_visible(self) -> None:
        vis = max(1, self._visible)
        if self.row < self.top:
            self.top = self.row
        elif self.row >= self.top + vis:
            self.top = self.row - vis + 1
        self.top = max(0, min(self.top, max(0, len(self.rows) - vis)))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_move(0, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_move(0, -1)

    def on_click(self, event: events.Click) -> None:
        widget = event.widget
        while widget is not None and not isinstance(widget, ThumbCell):
            widget = widget.parent  # type: ignore[assignment]
        if widget is None or widget.item is None:
            return
        self.focus()
        self.row, self.col = self.top + widget.index // self._cols, widget.index % self._cols
        self._refresh_all()
        if event.chain == 2:
            self.post_message(self.Activated(widget.item))

    def action_activate(self) -> None:
        if self.current is not None:
            self.post_message(self.Activated(self.current))

    # ----- layout ------------------------------------------------------------------------------------
    def set_zoom(self, zoom: int) -> None:
        self.zoom = max(0, min(len(ZOOMS) - 1, zoom))
        self._relayout()

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        width, height = max(1, self.size.width - 1), max(1, self.size.height)
        min_w, min_h = ZOOMS[self.zoom]
        cols, visible = max(1, width // min_w), max(1, height // min_h)
        px_w, px_h = images.cell_pixels()
        box = (max(1, width // cols - 1) * px_w, max(1, height // visible - 2) * px_h)
        if (cols, visible, box) == (self._cols, self._visible, self._box):
            return
        key = self.current.key if self.current else None
        grid = self.query_one("#cells")
        grid.styles.grid_size_columns, grid.styles.grid_size_rows = cols, visible
        self._cols, self._visible, self._box = cols, visible, box
        if len(self._cells) != cols * visible:
            for cell in self._cells:
                cell.remove()
            self._cells = [ThumbCell(i) for i in range(cols * visible)]
            grid.mount_all(self._cells)
        self.rows = self._builder(cols)
        self._place(key)
        self.call_after_refresh(self._refresh_all)

    # ----- drawing -----------------------------------------------------------------------------------
    def _refresh_all(self) -> None:
        self._keep_cursor_visible()
        self.refill()
        self._draw_scroll()
        item = self.current
        if item is not self._last_item:
            self._last_item = item
            self.post_message(self.CursorMoved(item))

    def refill(self) -> None:
        empty = not self.rows
        note = self.query_one("#empty", Static)
        if note.display != empty:
            note.display = empty
            self.query_one("#cells").display = not empty
        if empty:
            note.update(self.empty_text)
            return
        if not self._cells or not self._cells[0].is_mounted:
            return
        cols = self._cols
        for i, cell in enumerate(self._cells):
            r, c = self.top + i // cols, i % cols
            item = self.rows[r][c] if r < len(self.rows) and c < len(self.rows[r]) else None
            picture = self.loader.get(item.thumb_key, self._box) if item is not None else None
            cell.show(item, marked=item is not None and item.key in self.marked,
                      cursor=(r, c) == (self.row, self.col), picture=picture)
        self._ask_for_thumbnails()

    def _ask_for_thumbnails(self) -> None:
        vis = max(1, self._visible)
        wanted = [it for row in self.rows[self.top: self.top + 2 * vis] for it in row if it.readable]
        self.request([ThumbRequest(it.thumb_key, it.path, it.sha256, self._box) for it in wanted], "grid")

    def pictures_ready(self, keys: set[str]) -> None:
        for cell in self._cells:
            if cell.item is not None and cell.item.thumb_key in keys:
                cell.display_picture(self.loader.get(cell.item.thumb_key, self._box))

    def _draw_scroll(self) -> None:
        height = max(1, self.size.height)
        total, vis = len(self.rows), max(1, self._visible)
        state = (height, total, vis, self.top)
        if state == self._scroll_drawn:
            return
        self._scroll_drawn = state
        bar = self.query_one("#scroll", Static)
        if total <= vis:
            bar.update("")
            return
        size = max(1, round(height * vis / total))
        start = min(height - size, round(height * self.top / total))
        t = Text(no_wrap=True)
        for y in range(height):
            t.append("┃\n" if start <= y < start + size else "│\n", style="bold" if start <= y < start + size
                     else "dim")
        t.rstrip()
        bar.update(t)
