"""The tag frequency table: tag, images, % of the dataset; rows marked with space for bulk edits."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui_lora.core.safepath import printable

SORTS = ("count", "name")


class TagTable(DataTable):
    """Rows keyed by the tag as displayed; ``marked`` survives reloads for tags that still exist."""

    BINDINGS = [  # rows, not columns: home and end go to the first and last tag
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    DEFAULT_CSS = """
    TagTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.marked: set[str] = set()
        self.sort_by = "count"
        self._rows: list = []  # tagops.TagCount

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("tag", key="tag", width=20)
        self.add_column("images", key="images", width=6)
        self.add_column("%", key="pct", width=4)
        self._label_columns()

    def on_resize(self) -> None:
        column = self.columns.get("tag")  # type: ignore[call-overload]
        if column is not None:
            column.auto_width = False
            column.width = max(10, self.size.width - (1 + 6 + 4) - 4 * 2 * self.cell_padding - 1)
            self.refresh()

    # ----- content ---------------------------------------------------------------------------------
    def show(self, rows: list) -> None:
        """Fill the table with ``rows`` (TagCount), keeping the cursor on the same tag."""
        current = self.cursor_tag
        self._rows = list(rows)
        present = {r.tag for r in rows}
        self.marked &= present
        self._fill(current)

    def toggle_sort(self) -> str:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self._label_columns()
        self._fill(self.cursor_tag)
        return self.sort_by

    def _fill(self, keep: str | None) -> None:
        rows = sorted(self._rows, key=lambda r: r.tag.casefold()) if self.sort_by == "name" else self._rows
        self.clear()
        for r in rows:
            self.add_row(self._mark(r.tag), Text(printable(r.tag), no_wrap=True, overflow="ellipsis"),
                         Text(str(r.images), justify="right"), Text(f"{r.percent:.0f}", justify="right"), key=r.tag)
        if keep is not None and keep in {r.tag for r in rows}:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _label_columns(self) -> None:
        for key, label, sort in (("tag", "tag", "name"), ("images", "images", "count")):
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None:
                column.label = Text(label + (" ▲" if sort == "name" == self.sort_by else
                                             " ▼" if sort == "count" == self.sort_by else ""), style="bold")
        self.refresh()

    def _mark(self, tag: str) -> Text:
        return Text("●", style="bold yellow") if tag in self.marked else Text(" ")

    # ----- selection -------------------------------------------------------------------------------
    @property
    def cursor_tag(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - an empty or clearing table has no cursor cell
            return None

    def count_of(self, tag: str) -> int:
        return next((r.images for r in self._rows if r.tag == tag), 0)

    def toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor and move down (space, space, space…)."""
        tag = self.cursor_tag
        if tag is None:
            return
        self.marked.symmetric_difference_update({tag})
        self.update_cell(tag, "mark", self._mark(tag))
        self.move_cursor(row=self.cursor_row + 1, animate=False)

    def selection(self) -> list[str]:
        """The marked tags (in table order), or the one under the cursor when none is marked."""
        if self.marked:
            return [r.tag for r in self._rows if r.tag in self.marked]
        tag = self.cursor_tag
        return [tag] if tag else []

    def clear_marks(self) -> None:
        for tag in list(self.marked):
            self.marked.discard(tag)
            if tag in self.rows:
                self.update_cell(tag, "mark", self._mark(tag))
