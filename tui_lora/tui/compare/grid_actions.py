"""The Compare step's grids: the list of earlier grids (read from output/samples/ in a worker), and a
grid on show in its own pane, with its title and the cell under the cursor kept current, esc back to the
form, and z or enter zooming into a cell (compare_zoom.py), whose arrows move this grid's cursor. A
mixin of CompareScreen (screen.py), kept apart so that screen stays about the form; reopening a listed
grid stays there, as an ``@on`` handler (Textual finds those only on the screen's own class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.widgets import ContentSwitcher, OptionList, Static
from textual.widgets.option_list import Option

from tui_lora.tui.compare.compare_grid import CompareGridView
from tui_lora.tui.compare.compare_grids import GridInfo, list_grids

if TYPE_CHECKING:
    from tui_lora.tui.compare.compare_zoom import CompareZoom


class GridActions:
    """Needs the screen's ``_grids``, ``grid_view``, ``project``, ``action_pick``, ``action_help``,
    ``query_one``, ``refresh_bindings`` and ``app``."""

    # ----- earlier grids -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="grids", exit_on_error=False)
    def _list_grids(self) -> None:
        grids = list_grids(self.project)
        self.app.call_from_thread(self._show_grids, grids)

    def _show_grids(self, grids: list[GridInfo]) -> None:
        self._grids = grids
        box = self.query_one("#compare-grids", OptionList)
        box.clear_options()
        if not grids:
            box.add_option(Option(Text("none yet: the grids you render are kept in output/samples/", style="dim"),
                                  disabled=True))
            return
        box.add_options([Option(Text(g.summary(), no_wrap=True, overflow="ellipsis"), id=str(g.index))
                         for g in grids])
        box.highlighted = 0

    # ----- the grid ------------------------------------------------------------------------------
    def open_grid(self, info: GridInfo) -> None:
        self.query_one("#compare-panes", ContentSwitcher).current = "grid-pane"
        self.grid_view.show(info)
        self._grid_title()
        self.grid_view.focus()
        self.refresh_bindings()

    def _grid_title(self) -> None:
        self.query_one("#grid-title", Static).update(self.grid_view.title_line())

    def on_compare_grid_view_cursor_moved(self, message: CompareGridView.CursorMoved) -> None:
        self.query_one("#grid-cell", Static).update(self.grid_view.label_line())

    def on_compare_grid_view_item_changed(self, message: CompareGridView.ItemChanged) -> None:
        self._grid_title()
        self.query_one("#grid-cell", Static).update(self.grid_view.label_line())

    def action_close_grid(self) -> None:
        self.query_one("#compare-panes", ContentSwitcher).current = "form-pane"
        self.query_one("#compare-grids", OptionList).focus()
        self.refresh_bindings()

    def action_zoom(self) -> None:
        from tui_lora.tui.compare.compare_zoom import CompareZoom

        grid = self.grid_view
        if grid.current is None or grid.info is None:
            return
        zoom = CompareZoom(grid.current, grid.info, grid.label_line(), lambda what: self._zoom_act(zoom, what))
        self.app.push_screen(zoom, lambda picked: self.action_pick() if picked else None)

    def _zoom_act(self, zoom: CompareZoom, what: str) -> None:
        """A key pressed in the zoom: ? is this screen's help; an arrow moves the grid's cursor, and the
        zoom shows the cell it lands on."""
        if what == "help":
            self.action_help()
            return
        grid = self.grid_view
        grid.action_move(*{"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}[what])
        if grid.current is None or grid.info is None:
            zoom.dismiss(False)
        else:
            zoom.show(grid.current, grid.info, grid.label_line())
