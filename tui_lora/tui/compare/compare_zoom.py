"""One cell of a comparison grid as large as the terminal allows, cropped from the grid PNG by its
box in the JSON index: all its pictures (every prompt × seed, prompts down, seeds across). The
arrow keys move the grid's cursor behind it (flip through the cells without closing), p picks the
cell as the winner, esc / enter / z close.

The zoom only draws: arrows and ? go to the ``act`` callback its opener gave it ("up", "down",
"left", "right", "help"), and the opener answers with :meth:`CompareZoom.show`; it closes with
True when p picked the cell (the opener then picks it), False otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_lora.tui.common import images
from tui_lora.tui.compare.compare_grids import GridCell, GridInfo, cell_images


class CellPicture(Message):
    def __init__(self, cell: GridCell, picture) -> None:
        super().__init__()
        self.cell, self.picture = cell, picture


class CompareZoom(ModalScreen[bool]):
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
        Binding("up", "act('up')", show=False),
        Binding("down", "act('down')", show=False),
        Binding("left", "act('left')", show=False),
        Binding("right", "act('right')", show=False),
        Binding("p", "pick", "Pick", show=False),
        Binding("question_mark", "act('help')", "Help", show=False),
    ]

    def __init__(self, cell: GridCell, info: GridInfo, label: Text, act: Callable[[str], None]) -> None:
        super().__init__()
        self._cell, self._info, self._label, self._act = cell, info, label, act
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
    def show(self, cell: GridCell, info: GridInfo, label: Text) -> None:
        """Draw ``cell`` of the grid ``info`` (``label``: the grid's line about it, for text mode)."""
        self._cell, self._info, self._label = cell, info, label
        self.refresh_cell()

    def refresh_cell(self) -> None:
        cell, info = self._cell, self._info
        self.query_one("#zoom-title", Static).update(self._title(cell))
        if info.per_cell > 1:
            prompts = "  ".join(f"{n}) {p}" for n, p in enumerate(info.prompts, start=1))
            seeds = ", ".join(str(x) for x in info.seeds[0])
            info_line = f"seeds {seeds} across · {info.steps} steps · {info.sampler} · prompts down: {prompts}"
        else:
            info_line = f"seed {cell.seed} · {info.steps} steps · {info.sampler} · {info.prompt}"
        if cell.file is not None:
            info_line = f"{cell.file.name} · " + info_line
        self.query_one("#zoom-info", Static).update(info_line)
        text = self.query_one("#zoom-text", Static)
        if self._widget_class is None:
            text.update(f"{self._label.plain}\n(pictures show in a terminal with graphics or colours; "
                        f"the grid is {info.png.name})")
        else:
            text.update("loading…")
            text.display = True
            self.query_one("#zoom-picture").display = False
        self.call_after_refresh(self._ask)

    def _title(self, cell: GridCell) -> Text:
        info = self._info
        t = Text(no_wrap=True, overflow="ellipsis")
        if cell.lora:
            t.append(f"{info.row_labels[cell.row]} at weight {cell.weight:g}", style="bold")
        else:
            t.append("no LoRA", style="bold")
            t.append(" · the base model alone", style="dim")
        t.append(f"   ({cell.row + 1}/{info.rows}, {cell.col + 1}/{info.cols})", style="dim")
        return t

    def _ask(self) -> None:
        cell, info = self._cell, self._info
        if self._widget_class is None:
            return
        area = self.query_one("#zoom-area").size
        if area.area == 0:
            return
        px_w, px_h = images.cell_pixels()
        self._load(info, cell, (area.width * px_w, area.height * px_h))

    @work(thread=True, exclusive=True, group="zoom", exit_on_error=False)
    def _load(self, info: GridInfo, cell: GridCell, fit: tuple[int, int]) -> None:
        self.post_message(CellPicture(cell, cell_images(info, [(cell.row, cell.col)], None, fit)[0]))

    def on_cell_picture(self, message: CellPicture) -> None:
        if message.cell is not self._cell or self._widget_class is None:
            return
        images.show_picture(self.query_one("#zoom-picture"), message.picture)
        self.query_one("#zoom-text").display = False

    # ----- keys ----------------------------------------------------------------------------------
    def action_act(self, what: str) -> None:
        self._act(what)

    def action_pick(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
