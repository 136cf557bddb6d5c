"""What the Train screen says: its status line, the saved-epochs list, the start-over question and
the notices when a run ends. Plain functions of a :class:`~tui_lora.tui.train.monitor.Snapshot` (rich
text, no textual), so they are tested without an app."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from tui_lora.core.events import RunSummary
from tui_lora.core.gpu import GpuReport
from tui_lora.core.jobs import JobStatus
from tui_lora.core.humanize import duration
from tui_lora.tui.common.format import short_path
from tui_lora.tui.common.fixes import say
from tui_lora.tui.train.monitor import Earlier, Snapshot, resume_epoch

# What the screen itself is doing to the job (the files cannot say it yet).
STARTING, STOPPING, STOPPING_SLOW = "starting", "stopping", "stopping-slow"


def resume_point(status: JobStatus) -> str:
    """``resumes from step 30 (epoch 3)``, or "" when there is nothing to resume."""
    if not status.resumable or status.resume_step is None:
        return ""
    n = resume_epoch(status)
    epoch = f" (epoch {n})" if n is not None else ""
    return f"resumes from step {status.resume_step}{epoch}"


def status_line(snap: Snapshot, busy: str | None = None, gpu: GpuReport | None = None,
                force_after_s: float = 0) -> Text:
    s, st = snap.summary, snap.status
    t = Text(overflow="ellipsis")
    if busy == STOPPING_SLOW and snap.running:
        t.append("◌ still stopping", style="bold yellow")
        t.append(f" after {duration(force_after_s)}: the step or the save takes long. f Force stop ends it now; "
                 "the last saved state stays valid.")
        return t
    if busy == STOPPING and snap.running:
        t.append("◌ stopping…", style="bold yellow")
        t.append(" finishing the step, then saving the LoRA and the resume state.")
        return t
    if st.state == "running":
        if s.state != "running" or not s.total_steps:  # the new run has written no start event yet
            t.append("● starting", style="bold green")
            t.append(": loading the model and caching latents…")
            return t
        t.append("● training", style="bold green")
        t.append(f" on {s.device or '?'} · epoch {s.epoch}/{s.epochs} · step {s.step}/{s.total_steps}")
        t.append(f" · {duration(elapsed(s))} in")
        card = gpu.largest if gpu else None
        if card is not None and card.memory_used_gb is not None:
            t.append(f" · VRAM {card.memory_used_gb:.1f}/{card.memory_total_gb:.0f} GB")
        return t
    if busy == STARTING:
        t.append("◌ starting…", style="bold green")
        return t
    resume = resume_point(st)
    if st.state == "none":
        t.append("No training run yet for this project. s starts one; 5 Steps checks the step count and VRAM first.",
                 style="dim")
    elif st.state == "finished":
        t.append("✓ finished", style="bold green")
        t.append(f": {s.step} steps in {duration(elapsed(s))} · {short_path(s.final_path or '')}")
    elif st.state == "stopped":
        t.append("■ stopped", style="bold yellow")
        t.append(f" at step {s.step}/{s.total_steps}. " if s.total_steps else " before training began. ")
        t.append(f"r {resume}; s starts over." if resume else "No state was saved yet; s starts again.")
    else:
        t.append("✗ failed: ", style="bold red")
        if s.error:
            t.append(say(s.error, "train"))
        elif resume:
            t.append(f"the training process ended at step {s.step} without a word (killed, out of memory or the "
                     "machine restarted).")
        else:
            t.append(say(st.message, "train") if st.message else "see logs/train.log")
        if resume:
            t.append(f" r {resume}.")
    return t


def saves_text(s: RunSummary) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    if not s.saves:
        t.append("none yet", style="dim")
    for ev in s.saves[-50:]:
        name = Path(str(ev.get("path", ""))).name
        t.append(f"{ev.get('epoch', '?'):>3}  ", style="bold")
        # Every file is a .safetensors: the name's distinctive part fits the narrow box.
        t.append(f"{name.removesuffix('.safetensors')}\n")
    t.rstrip()
    return t


def start_question(project, earlier: Earlier) -> str:
    """The confirm dialog's text for a new run over earlier results: what happens to each, plainly."""
    lines = [f"Start a new training run of {project.name}? It replaces the earlier one:"]
    if earlier.logs:
        lines.append("• its logs (events.jsonl, train.log) move to logs/previous/;")
    if earlier.resume_step is not None:
        epoch = f", epoch {earlier.resume_epoch}" if earlier.resume_epoch is not None else ""
        lines.append(f"• its resume point (step {earlier.resume_step}{epoch}) in state/ is discarded, so r can no "
                     "longer continue it;")
    if earlier.files:
        name = project.output_name
        files = "1 LoRA file" if earlier.files == 1 else f"{earlier.files} LoRA files"
        verb = "is" if earlier.files == 1 else "are"
        lines.append(f"• {files} in output/ ({name}-*.safetensors, {name}.safetensors) {verb} overwritten when "
                     "the new run saves under the same names.")
    lines[-1] = lines[-1].rstrip(";")
    return "\n".join(lines)


def ended_notice(before: Snapshot, after: Snapshot) -> tuple[str, str, str] | None:
    """(title, message, severity) when the run just ended, else None."""
    a, b = before.status, after.status
    s = after.summary
    if a.state == b.state and before.summary.final_path == s.final_path:
        return None
    if b.state == "finished":
        return "Training finished", f"Saved {short_path(s.final_path or '')}.", "information"
    if b.state == "stopped":
        resume = resume_point(b)
        return "Training stopped", f"Stopped at step {s.step}." + (f" r {resume}." if resume else ""), "information"
    if b.state == "failed":
        notice = s.error or b.message
        return "Training failed", say(notice, "train") if notice else "see logs/train.log", "error"
    return None


def elapsed(s: RunSummary) -> float | None:
    if s.started is None or s.updated is None:
        return None
    return s.updated - s.started
