"""The Steps screen's right pane: the step arithmetic, time, VRAM against the GPU, warnings,
and what differs from the preset. Re-rendered on every keystroke (the planner is pure and fast)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui_lora.core.gpu import GpuReport
from tui_lora.core.plan import Plan
from tui_lora.core.humanize import duration

NEAR_LIMIT = 0.9  # above this share of the card, fragmentation and other processes can tip it over


def vram_verdict(estimate_gb: float, report: GpuReport | None) -> tuple[str, str]:
    """(sentence, style) comparing the estimate with the largest detected GPU."""
    head = f"VRAM ≈ {estimate_gb:.1f} GB"
    if report is None:
        return f"{head} (looking for a GPU…)", "dim"
    gpu = report.largest
    if gpu is None:
        return f"{head}. {report.reason} The estimate is for the card you train on.", ""
    card = f"{gpu.name} ({gpu.memory_total_gb:.0f} GB)"
    if estimate_gb > gpu.memory_total_gb:
        return (f"{head}: more than the {card}. Lower the batch, turn on gradient_checkpointing "
                "or lower the resolution.", "bold red")
    if estimate_gb > NEAR_LIMIT * gpu.memory_total_gb:
        return f"{head}: close to the limit of the {card}; gradient_checkpointing gives room.", "yellow"
    return f"{head}: fits the {card}.", "green"


class PlanView(Static):
    DEFAULT_CSS = """
    PlanView {
        height: auto;
        width: 1fr;
    }
    """

    text = Text()  # what is shown now, as plain-readable rich Text

    def show(self, plan: Plan, gpu: GpuReport | None, diff: list[tuple[str, Any, Any]], preset: str) -> None:
        self.text = render_plan(plan, gpu, diff, preset)
        self.update(self.text)


def render_plan(plan: Plan, gpu: GpuReport | None, diff: list[tuple[str, Any, Any]], preset: str) -> Text:
    t = Text()
    for line in plan.breakdown:
        t.append(line + "\n", style="bold")
    saved = f"{plan.saved_files} LoRA file{'s' if plan.saved_files != 1 else ''} saved"
    t.append(f"{plan.total_steps} steps in {plan.epochs} epochs · {saved}\n")
    if plan.seconds is not None and plan.input.it_per_s:
        t.append(f"about {duration(plan.seconds)} at {plan.input.it_per_s:.2f} it/s (the last run's speed)\n",
                 style="dim")
    if plan.vram is not None:
        text, style = vram_verdict(plan.vram.total_gb, gpu)
        t.append(text + "\n", style=style)
    for issue in plan.issues:
        mark, style = ("✗ ", "bold red") if issue.level == "error" else ("! ", "yellow")
        t.append("\n" + mark, style=style)
        t.append(issue.message, style=style)
        t.append(" " + issue.fix)
    if not plan.issues:
        t.append("\nNo warnings.", style="green")
    t.append("\n\n")
    if diff:
        t.append(f"Changed from preset {preset}:\n", style="bold")
        for key, old, new in diff:
            t.append(f"  {key} ", style="")
            t.append(f"{_fmt(old)} → {_fmt(new)}\n", style="cyan")
    elif preset:
        t.append(f"Same as preset {preset}.", style="dim")
    t.rstrip()
    return t


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value or '""'
    return str(value)
