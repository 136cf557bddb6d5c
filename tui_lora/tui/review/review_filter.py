"""Pick what the review grid shows: every file, those with problems, one kind of problem, the
duplicate groups, or the trash — each with its count, and whether x can fix that problem."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_lora.core.dataset.checks import Problem, Severity
from tui_lora.tui.common.dialog import Dialog


class FilterPicker(Dialog):
    """Dismisses with a view id (see review_model.VIEWS and ``problem:<code>``) or None."""

    TITLE_TEXT = "Show"
    KEYS_TEXT = "↑/↓ choose · enter show · esc cancel · x: fixed automatically"

    DEFAULT_CSS = """
    FilterPicker OptionList {
        height: auto;
        max-height: 16;
    }
    """

    def __init__(self, filters: list[tuple[str, str, int]], current: str) -> None:
        super().__init__()
        self.filters = filters
        self.current = current

    def compose_dialog(self) -> ComposeResult:
        options = []
        for view, label, count in self.filters:
            t = Text(no_wrap=True, overflow="ellipsis")
            if view.startswith("problem:"):
                code = Problem(view.split(":", 1)[1])
                t.append("  ✗ " if code.severity is Severity.ERROR else "  ! ",
                         style="red" if code.severity is Severity.ERROR else "yellow")
                t.append(f"{label:<44}")
                t.append(f"{count:>5}")
                t.append("  x" if code.fixable else "", style="green")
            else:
                t.append(f"{label:<48}", style="bold")
                t.append(f"{count:>5}")
            options.append(Option(t, id=view))
        yield OptionList(*options, id="filters", compact=True)

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        ids = [v for v, _, _ in self.filters]
        picker.highlighted = ids.index(self.current) if self.current in ids else 0
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_apply(self) -> None:
        picker = self.query_one(OptionList)
        if picker.highlighted is not None:
            self.dismiss(self.filters[picker.highlighted][0])
