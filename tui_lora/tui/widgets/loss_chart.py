"""The smoothed loss curve with the numbers a user watches: loss, average, lr, speed, ETA."""

from __future__ import annotations

from statistics import fmean

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tui_lora.core.events import RunSummary
from tui_lora.tui.format import duration, number


class LossChart(Vertical):
    DEFAULT_CSS = """
    LossChart {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    LossChart Sparkline {
        height: 4;
        margin: 0 0;
    }
    LossChart #loss-empty {
        height: 4;
        color: $text-muted;
        content-align: center middle;
    }
    LossChart #loss-numbers {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        self.border_title = "loss (smoothed)"
        yield Sparkline([], summary_function=fmean, id="loss-spark")
        yield Static("no loss yet", id="loss-empty")
        yield Static("", id="loss-numbers")

    def on_mount(self) -> None:
        self.query_one(Sparkline).display = False

    def show(self, smoothed: tuple[float, ...], s: RunSummary) -> None:
        spark = self.query_one(Sparkline)
        spark.display = bool(smoothed)
        self.query_one("#loss-empty").display = not smoothed
        if smoothed:
            spark.data = list(smoothed)
            self.border_title = f"loss (smoothed) {min(smoothed):.4f}–{max(smoothed):.4f}"
        self.query_one("#loss-numbers", Static).update(numbers_line(s))


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
