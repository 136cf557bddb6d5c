"""One cell of a comparison grid as large as the terminal allows, cropped from the grid PNG by its
box in the JSON index. The arrow keys move the grid's cursor behind it (flip through the cells
without closing), p picks the cell as the winner, esc / enter / z close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_lora.tui.common import images
from tui_lora.tui.compare.compare_grids import GridCell, crop_cell

if TYPE_CHECKING:
    from tui_lora.tui.compare.screen import CompareScreen


class CellPicture(Message):
    def __init__(self, cell: GridCell, picture) -> None:
        super().__init__()
        self.cell, self.picture = cell, picture


class CompareZoom(ModalScreen[None]):
    DEFAULT_CSS = """
    CompareZoom {
        align: center middle;
    }
    CompareZoom > Vertical {
        width: 100%;
        height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    CompareZoom #zoom-title {
        height: 1;
    }
    CompareZoom #zoom-area {
        height: 1fr;
        align: center middle;
    }
    CompareZoom #zoom-text {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        color: $text-muted;
    }
    CompareZoom #zoom-info {
        height: auto;
        max-height: 3;
        color: $text-muted;
    }
    CompareZoom #zoom-keys {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,z,q", "close", "Close", show=False),
        Binding("up", "move(-1, 0)", show=False),
        Binding("down", "move(1, 0)", show=False),
        Binding("left", "move(0, -1)", show=False),
        Binding("right", "move(0, 1)", show=False),
        Binding("p", "pick", "Pick", show=False),
        Binding("question_mark", "help", "Help", show=False),
    ]

    def __init__(self, owner: CompareScreen) -> None:
        super().__init__()
        self.owner = owner
        self._widget_class = images.widget_class()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="zoom-title")
            with Container(id="zoom-area"):
                yield Static("", id="zoom-text", markup=False)
                if self._widget_class is not None:
                    yield self._widget_class(id="zoom-picture")
            yield Static("", id="zoom-info", markup=False)
            yield Static("←↑↓→ other cells · p pick this one · esc close", id="zoom-keys", markup=False)

    def on_mount(self) -> None:
        if self._widget_class is not None:
            self.query_one("#zoom-picture").display = False
        self.refresh_cell()

    def on_resize(self) -> None:
        self.call_after_refresh(self._ask)

    # ----- the cell ------------------------------------------------------------------------------
    def refresh_cell(self) -> None:
        grid = self.owner.grid_view
        cell, info = grid.current, grid.info
        if cell is None or info is None:
            self.dismiss(None)
            return
        self.query_one("#zoom-title", Static).update(self._title(cell))
        info_line = f"seed {cell.seed} · {info.steps} steps · {info.sampler} · {info.prompt}"
        if cell.file is not None:
            info_line = f"{cell.file.name} · " + info_line
        self.query_one("#zoom-info", Static).update(info_line)
        text = self.query_one("#zoom-text", Static)
        if self._widget_class is None:
            text.update(f"{grid.label_line().plain}\n(pictures show in a terminal with graphics or colours; "
                        f"the grid is {info.png.name})")
        else:
            text.update("loading…")
            text.display = True
            self.query_one("#zoom-picture").display = False
        self.call_after_refresh(self._ask)

    def _title(self, cell: GridCell) -> Text:
        info = self.owner.grid_view.info
        assert info is not None
        t = Text(no_wrap=True, overflow="ellipsis")
        if cell.lora:
            t.append(f"{info.row_labels[cell.row]} at weight {cell.weight:g}", style="bold")
        else:
            t.append("no LoRA", style="bold")
            t.append(" · the base model alone", style="dim")
        t.append(f"   ({cell.row + 1}/{info.rows}, {cell.col + 1}/{info.cols})", style="dim")
        return t

    def _ask(self) -> None:
        cell, info = self.owner.grid_view.current, self.owner.grid_view.info
        if self._widget_class is None or cell is None or info is None:
            return
        area = self.query_one("#zoom-area").size
        if area.area == 0:
            return
        px_w, px_h = images.cell_pixels()
        self._load(info.png, cell, (area.width * px_w, area.height * px_h))

    @work(thread=True, exclusive=True, group="zoom", exit_on_error=False)
    def _load(self, png, cell: GridCell, fit: tuple[int, int]) -> None:
        self.post_message(CellPicture(cell, crop_cell(png, cell.box, fit)))

    def on_cell_picture(self, message: CellPicture) -> None:
        if message.cell is not self.owner.grid_view.current or self._widget_class is None:
            return
        images.show_picture(self.query_one("#zoom-picture"), message.picture)
        self.query_one("#zoom-text").display = False

    # ----- keys ----------------------------------------------------------------------------------
    def action_move(self, drow: int, dcol: int) -> None:
        self.owner.grid_view.action_move(drow, dcol)
        self.refresh_cell()

    def action_pick(self) -> None:
        self.dismiss(None)
        self.owner.action_pick()

    def action_help(self) -> None:
        self.owner.action_help()

    def action_close(self) -> None:
        self.dismiss(None)
