"""The comparison grid drawn in the terminal: epochs (or a sweep's variants) down the side, weights
across the top, each cell's picture cropped from the grid PNG by the box its JSON index gives, and a
cell cursor. A cell holds one picture per prompt × seed: the grid shows one of them at a time (n flips
to the next) or all of them side by side (a).

The labels are terminal text around the pictures: the PNG's own labels are a few pixels tall and
unreadable at terminal resolution. Cells are sized to the widget (and scroll when there are many
epochs); their pictures are cropped and scaled in a thread worker. In text mode (no graphics, as in
Pilot tests) each cell shows its epoch and weight instead of a picture.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Grid, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui_lora.tui.common import images
from tui_lora.tui.compare.compare_grids import GridCell, GridInfo, cell_images

GUTTER = 0  # each cell has its own frame, which separates them (and marks the cursor)
FRAME = 2  # the frame's rows (and columns) around a cell's picture
MIN_CELL_ROWS = 2 + FRAME


def cell_text(cell: GridCell | None) -> str:
    if cell is None:
        return ""
    return "no LoRA" if not cell.lora else f"e{cell.epoch} · {cell.weight:g}"


def column_label(label: str, weight: float | None, width: int) -> str:
    """"weight 0.8" where it fits, else "0.8": seven columns still fit 80 cells."""
    if weight is None or len(label) <= width:
        return label
    return f"{weight:g}"


def cell_rows(cell_cols: int, size: tuple[int, int], rows: int, height: int) -> int:
    """Rows of one cell: the picture's aspect at the terminal's cell shape, shrunk so every epoch
    fits on screen when it can (never under MIN_CELL_ROWS; more epochs than that scroll)."""
    px_w, px_h = images.cell_pixels()
    w, h = size if size[0] and size[1] else (1, 1)
    ideal = max(MIN_CELL_ROWS, round((cell_cols - FRAME) * px_w * h / (w * px_h)) + FRAME)
    fit = max(MIN_CELL_ROWS, (height - 1) // max(1, rows))
    return min(ideal, fit)


class GridCellBox(Container):
    """One cell: its picture (or its text stand-in) in a frame, a heavy one under the cursor."""

    DEFAULT_CSS = """
    GridCellBox {
        height: 1fr;
        width: 1fr;
        align: center middle;
        border: round $panel-lighten-2;
    }
    GridCellBox.-cursor {
        border: heavy $accent;
    }
    GridCellBox > Static {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        color: $text-muted;
    }
    """

    def __init__(self, cell: GridCell | None, widget_class) -> None:
        super().__init__()
        self.cell = cell
        self.widget_class = widget_class

    def compose(self) -> ComposeResult:
        yield Static(cell_text(self.cell), markup=False)
        if self.widget_class is not None:
            yield self.widget_class()

    def on_mount(self) -> None:
        if self.widget_class is not None:
            self.query_one(self.widget_class).display = False

    def set_picture(self, picture) -> None:
        if self.widget_class is None:
            return
        images.show_picture(self.query_one(self.widget_class), picture)
        self.query_one(Static).display = False


class CompareGridView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    CompareGridView {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    CompareGridView > Grid {
        height: auto;
        grid-gutter: 0 0;
    }
    CompareGridView .cg-label {
        height: 1fr;
        width: 1fr;
        content-align: left middle;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareGridView .cg-head {
        content-align: center middle;
        text-style: bold;
    }
    CompareGridView .cg-label.-cursor {
        text-style: bold reverse;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("home", "move(0, -99)", show=False),
        Binding("end", "move(0, 99)", show=False),
        Binding("n", "next_item", "Flip"),
        Binding("a", "all_items", "All"),
    ]

    class CursorMoved(Message):
        def __init__(self, cell: GridCell | None) -> None:
            super().__init__()
            self.cell = cell

    class PicturesReady(Message):
        def __init__(self, info: GridInfo, pictures: dict, key: tuple) -> None:
            super().__init__()
            self.info, self.pictures, self.key = info, pictures, key

    class ItemChanged(Message):
        """Another prompt × seed (or all of them) is on show."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: GridInfo | None = None
        self.row, self.col = 0, 0
        self.item: tuple[int, int] | None = (0, 0)  # the prompt × seed on show; None: all of them
        self._widget_class = images.widget_class()
        self._shape: tuple[int, int, int] | None = None  # (label width, cell cols, cell rows) laid out

    # ----- content -------------------------------------------------------------------------------
    def show(self, info: GridInfo, row: int = 0, col: int = 1) -> None:
        self.info = info
        self.item = (0, 0)
        self.row = min(max(0, row), info.rows - 1)
        self.col = min(max(0, col), info.cols - 1)
        self._shape = None
        self.call_next(self._build)

    @property
    def current(self) -> GridCell | None:
        return self.info.cell(self.row, self.col) if self.info else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_item", "all_items"):
            return self.info is not None and self.info.per_cell > 1
        return True

    def _picture_size(self) -> tuple[int, int]:
        """Pixels of what a cell shows: one picture, or the block of all of them."""
        info = self.info
        assert info is not None
        w, h = info.size
        if self.item is not None or info.per_cell == 1:
            return w, h
        gap = max(2, w // 32)
        cols = max(len(s) for s in info.seeds)
        return cols * w + (cols - 1) * gap, len(info.prompts) * h + (len(info.prompts) - 1) * gap

    def _layout(self) -> tuple[int, int, int]:
        info = self.info
        assert info is not None
        width = max(20, (self.size.width or 78) - 1)  # the scrollbar's column
        label_w = min(max(len(t) for t in info.row_labels) + 1, width // 4)
        cell_cols = max(4 + FRAME, (width - label_w - GUTTER * info.cols) // info.cols)
        return label_w, cell_cols, cell_rows(cell_cols, self._picture_size(), info.rows, self.size.height or 20)

    async def _build(self) -> None:
        info = self.info
        if info is None or not self.is_mounted:
            return
        self._shape = self._layout()
        label_w, cell_cols, rows_h = self._shape
        children = [Static("", classes="cg-label")]
        for c, (label, weight) in enumerate(zip(info.col_labels, info.weights)):
            children.append(Static(column_label(label, weight, cell_cols), classes="cg-label cg-head",
                                   id=f"cg-col-{c}", markup=False))
        for r, label in enumerate(info.row_labels):
            children.append(Static(label, classes="cg-label", id=f"cg-row-{r}", markup=False))
            for c in range(info.cols):
                box = GridCellBox(info.cell(r, c), self._widget_class)
                box.id = f"cg-cell-{r}-{c}"
                children.append(box)
        grid = Grid(*children)
        grid.styles.grid_size_columns = info.cols + 1
        grid.styles.grid_columns = " ".join([str(label_w)] + [str(cell_cols)] * info.cols)
        grid.styles.grid_rows = " ".join(["1"] + [str(rows_h)] * info.rows)
        async with self.batch():
            await self.remove_children()
            await self.mount(grid)
        self.call_after_refresh(self._mark)
        if self._widget_class is not None:
            px_w, px_h = images.cell_pixels()
            self._load(info, self.item, ((cell_cols - FRAME) * px_w, (rows_h - FRAME) * px_h))

    def on_resize(self) -> None:
        if self.info is not None and self._shape is not None and self._shape != self._layout():
            self._shape = None
            self.call_next(self._build)

    @work(thread=True, exclusive=True, group="compare-cells", exit_on_error=False)
    def _load(self, info: GridInfo, item: tuple[int, int] | None, fit: tuple[int, int]) -> None:
        where = [(c.row, c.col) for c in info.cells]
        crops = cell_images(info, where, item, fit)  # each sheet decoded once, not per cell
        self.post_message(self.PicturesReady(info, dict(zip(where, crops)), (item, fit)))

    def on_compare_grid_view_pictures_ready(self, message: PicturesReady) -> None:
        if message.info is not self.info or message.key[0] != self.item:
            return  # another grid, or another picture of the cells, by now
        for (r, c), picture in message.pictures.items():
            for box in self.query(f"#cg-cell-{r}-{c}").results(GridCellBox):
                box.set_picture(picture)

    # ----- the cursor ----------------------------------------------------------------------------
    def _mark(self) -> None:
        for w in self.query(".-cursor"):
            w.remove_class("-cursor")
        for selector in (f"#cg-cell-{self.row}-{self.col}", f"#cg-row-{self.row}", f"#cg-col-{self.col}"):
            for w in self.query(selector):
                w.add_class("-cursor")
        for w in self.query(f"#cg-cell-{self.row}-{self.col}"):
            self.scroll_to_widget(w, animate=False)
        self.post_message(self.CursorMoved(self.current))

    def action_move(self, drow: int, dcol: int) -> None:
        if self.info is None:
            return
        self.row = min(max(0, self.row + drow), self.info.rows - 1)
        self.col = min(max(0, self.col + dcol), self.info.cols - 1)
        self._mark()

    def action_next_item(self) -> None:
        """The next prompt × seed in every cell (from the combined view: the first)."""
        info = self.info
        if info is None or info.per_cell < 2:
            return
        items = info.items
        self.item = items[0] if self.item is None else items[(items.index(self.item) + 1) % len(items)]
        self._item_changed()

    def action_all_items(self) -> None:
        """Every prompt × seed side by side in each cell, or back to one at a time."""
        if self.info is None or self.info.per_cell < 2:
            return
        self.item = (0, 0) if self.item is None else None
        self._item_changed()

    def _item_changed(self) -> None:
        self._shape = None
        self.call_next(self._build)
        self.post_message(self.ItemChanged())

    def move_to(self, row: int, col: int) -> None:
        if self.info is not None:
            self.row, self.col = row, col
            self.action_move(0, 0)

    def title_line(self) -> Text:
        """The line above the grid: the prompt and seed on show (or that all are)."""
        info = self.info
        t = Text(no_wrap=True, overflow="ellipsis")
        if info is None:
            return t
        if info.per_cell == 1:
            t.append(f"{info.when} · seed {info.seed} · {info.steps} steps · ", style="dim")
            t.append(info.prompt, style="bold")
        else:
            t.append(f"{info.steps} steps · ", style="dim")
            t.append(info.item_text(self.item), style="bold")
        return t

    def label_line(self) -> Text:
        """The selected cell in words (the line under the grid)."""
        cell, info = self.current, self.info
        t = Text(no_wrap=True, overflow="ellipsis")
        if cell is None or info is None:
            return t
        if not cell.lora:
            t.append(f"{info.row_labels[cell.row]} row · no LoRA", style="bold")
            t.append(" · the base model alone, for reference", style="dim")
            return t
        t.append(f"{info.row_labels[cell.row]} at weight {cell.weight:g}", style="bold")
        if info.per_cell == 1:
            t.append(f" · {cell.file.name if cell.file else ''} · seed {cell.seed}", style="dim")
        elif self.item is None:
            t.append(f" · {cell.file.name if cell.file else ''} · all {info.per_cell} pictures", style="dim")
        else:
            p, k = self.item
            t.append(f" · {cell.file.name if cell.file else ''} · prompt {p + 1} · seed {info.seeds[p][k]}",
                     style="dim")
        return t
