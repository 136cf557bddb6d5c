"""The row of wizard steps at the top of every screen: Project › Fetch › … › Compare."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui_lora.tui.navigation import STEPS, available


class StepBar(Widget):
    """Numbered steps; the current one highlighted, the ones still being built dimmed."""

    DEFAULT_CSS = """
    StepBar {
        height: 1;
        width: 1fr;
        background: $panel;
    }
    """

    current: reactive[str | None] = reactive(None)
    has_project: reactive[bool] = reactive(True)

    def __init__(self, current: str | None, *, has_project: bool = True, demo: bool = False) -> None:
        super().__init__()
        self.set_reactive(StepBar.current, current)
        self.set_reactive(StepBar.has_project, has_project)
        self.demo = demo

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.demo:
            t.append(" DEMO ", style="bold black on yellow")  # a demo project is open: on every screen
        else:
            t.append(" ")
        for i, step in enumerate(STEPS, 1):
            if i > 1:
                t.append(" › ", style="dim")
            label = f"{i} {step.label}"
            if step.id == self.current:
                t.append(f" {label} ", style="bold reverse")
            elif not available(step):
                t.append(label, style="dim italic")
            elif not self.has_project:
                t.append(label, style="dim")
            else:
                t.append(label, style="bold")
        legend = "  dim: coming soon"
        if all(available(s) for s in STEPS):
            legend = ""  # every step is built: nothing to explain
        if legend and self.size.width >= t.cell_len + len(legend):
            t.append(legend, style="dim italic")
        return t
