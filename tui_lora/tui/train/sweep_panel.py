"""The Train screen's list of a sweep's variants: one row each with its state, a progress bar while it
trains, and its loss (the trainer's running average). Redrawn only when the sweep changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_lora.core.sweep import SweepStatus
from tui_lora.tui.train.sweep_text import variant_lines


class SweepPanel(Static):
    DEFAULT_CSS = """
    SweepPanel {
        height: 1fr;
        min-height: 3;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    sweep: SweepStatus | None = None

    def on_mount(self) -> None:
        self.border_title = "variants"

    def show(self, sweep: SweepStatus | None) -> None:
        self.sweep = sweep
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        sweep = self.sweep
        if sweep is None:
            self.update(Text("no sweep", style="dim"))
            return
        self.border_title = f"variants ({len(sweep.variants)}): {', '.join(sweep.manifest.varied_keys)}"
        self.update(variant_lines(sweep, self.content_size.width or 74))
