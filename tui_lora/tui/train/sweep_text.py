"""What the Train screen says about a sweep: its status line and one row per variant (rich text, no
textual), so they are tested without an app."""

from __future__ import annotations

from rich.text import Text

from tui_lora.core.sweep import SweepStatus, VariantStatus
from tui_lora.tui.common.progress_text import progress_bar

_MARK = {"done": ("✓", "green"), "running": ("●", "bold green"), "queued": ("·", "dim"),
         "stopped": ("■", "yellow"), "failed": ("✗", "red")}


def _variants(n: int) -> str:
    return f"{n} variant" + ("" if n == 1 else "s")


def counts(sweep: SweepStatus) -> str:
    return ", ".join(f"{sweep.count(s)} {s}" for s in ("done", "running", "queued", "stopped", "failed")
                     if sweep.count(s))


def status_line(sweep: SweepStatus, busy: str | None = None) -> Text:
    from tui_lora.tui.train.train_text import STARTING, STOPPING, STOPPING_SLOW

    t = Text(overflow="ellipsis")
    n = len(sweep.variants)
    if busy in (STOPPING, STOPPING_SLOW) and sweep.running:
        t.append("◌ stopping the sweep…", style="bold yellow")
        t.append(" the running variant finishes its step and saves its LoRA and resume state.")
        return t
    if sweep.running:
        t.append("● sweep", style="bold green")
        t.append(f" of {_variants(n)}: {counts(sweep)}. x stops it (the running variant saves); the variants' files "
                 "go to output/sweep/.")
        return t
    if busy == STARTING:
        t.append("◌ starting the sweep…", style="bold green")
        return t
    if sweep.state == "finished":
        t.append("✓ sweep finished", style="bold green")
        t.append(f": {_variants(n)} in output/sweep/. c compares them side by side; w starts another sweep.")
    elif sweep.state == "failed":
        t.append("✗ sweep ended", style="bold red")
        t.append(f": {counts(sweep)}. r tries the failed variants again; c compares the finished ones.")
    else:
        t.append("■ sweep stopped", style="bold yellow")
        t.append(f": {counts(sweep)}. r resumes it (finished variants are kept); w starts a new one.")
    return t


def variant_line(v: VariantStatus, width: int, label_width: int) -> Text:
    mark, style = _MARK.get(v.state, ("?", ""))
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{mark} ", style=style)
    t.append(f"{v.label:<{label_width}} ", style="bold" if v.state == "running" else "")
    loss = f"  loss {v.loss:.4f}" if v.loss is not None and v.state != "queued" else ""
    if v.state in ("running", "stopped") and v.total_steps:
        steps = f" {v.step}/{v.total_steps}"
        bar_width = max(10, min(30, width - label_width - len(loss) - len(steps) - 4))
        t.append(progress_bar(v.step, v.total_steps, bar_width))
        t.append(steps)
    elif v.state == "failed":
        t.append(f"failed: {v.message or ''}", style="red")
        return t
    else:
        t.append(v.progress, style="dim" if v.state == "queued" else "")
    t.append(loss, style="dim")
    return t


def variant_lines(sweep: SweepStatus, width: int) -> Text:
    label_width = min(max((len(v.label) for v in sweep.variants), default=0), max(8, width // 3))
    out = Text(no_wrap=True, overflow="ellipsis")
    for n, v in enumerate(sweep.variants):
        if n:
            out.append("\n")
        out.append_text(variant_line(v, width, label_width))
    return out


def focus_variant(sweep: SweepStatus) -> VariantStatus | None:
    """The variant whose loss the chart shows: the running one, else the last that trained."""
    running = [v for v in sweep.variants if v.state == "running"]
    if running:
        return running[0]
    trained = [v for v in sweep.variants if v.summary is not None and v.summary.step]
    return max(trained, key=lambda v: v.summary.updated or 0.0) if trained else None
