"""The smoothed loss curve with the numbers a user watches: loss, average, lr, speed, ETA.

The curve is drawn here rather than with Textual's Sparkline: that one emits a separate styled
segment (and escape sequence) per cell and refreshes several times per update, which made each
redraw ~10 kB over SSH. One style per row, one refresh per update keeps it to a few hundred bytes.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui_lora.core.events import RunSummary
from tui_lora.core.humanize import duration
from tui_lora.tui.common.format import number
from tui_lora.tui.train.monitor import downsample

BLOCKS = " ▁▂▃▄▅▆▇█"


def curve_rows(values: tuple[float, ...] | list[float], width: int, height: int) -> list[str]:
    """``values`` as ``height`` rows of block characters, ``width`` columns (each a mean), top row first."""
    if not values or width <= 0 or height <= 0:
        return [""] * max(height, 0)
    values = list(values)
    # Fewer points than columns: stretch them, so a short run still fills the box.
    cols = downsample(values, width) if len(values) >= width else [values[c * len(values) // width] for c in range(width)]
    lo, hi = min(cols), max(cols)
    span = hi - lo
    # Eighths of a cell filled per column; the lowest value still shows a sliver.
    levels = [1 + round((v - lo) / span * (height * 8 - 1)) if span > 0 else height * 4 for v in cols]
    rows = []
    for r in range(height - 1, -1, -1):
        rows.append("".join(BLOCKS[max(0, min(8, lv - r * 8))] for lv in levels))
    return rows


class LossCurve(Static):
    DEFAULT_CSS = """
    LossCurve {
        height: 4;
        width: 1fr;
        color: $accent;
    }
    """

    values: tuple[float, ...] = ()

    def show(self, values: tuple[float, ...]) -> None:
        self.values = values
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        size = self.content_size
        if not self.values:
            text = Text("no loss yet".center(max(size.width, 11)), style="dim")
        else:
            text = Text("\n".join(curve_rows(self.values, size.width, size.height or 4)), no_wrap=True)
        self.update(text, layout=False)  # a fixed-size box: no layout pass, no full-screen repaint


class LossChart(Vertical):
    DEFAULT_CSS = """
    LossChart {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    LossChart #loss-numbers {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        self.border_title = "loss (smoothed)"
        yield LossCurve(id="loss-curve")
        yield Static("", id="loss-numbers")

    def show(self, smoothed: tuple[float, ...], s: RunSummary) -> None:
        self.query_one(LossCurve).show(smoothed)
        # A new run starts empty: the title must not keep the previous run's range.
        title = f"loss (smoothed) {min(smoothed):.4f}–{max(smoothed):.4f}" if smoothed else "loss (smoothed)"
        if title != self.border_title:
            self.border_title = title
        self.query_one("#loss-numbers", Static).update(numbers_line(s), layout=False)  # always one row


def numbers_line(s: RunSummary) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    for label, value in (
        ("loss", number(s.loss)),
        ("avg", number(s.avg_loss)),
        ("lr", number(s.lr, 3)),
        ("it/s", number(s.it_per_s, 3)),
        ("ETA", duration(s.eta_s) if s.state == "running" else "–"),
    ):
        t.append(f"{label} ", style="dim")
        t.append(f"{value}   ", style="bold")
    return t
