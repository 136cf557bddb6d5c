"""The LoRA files a run leaves in output/: one per saved epoch (``NAME-000003.safetensors``), the
final one (``NAME.safetensors``) and the stop-save a stop writes (``NAME-step00000019.safetensors``).

A stop-save holds the LoRA as it was when the run stopped. Only the newest one is kept: a later
stop supersedes it (the run went on from the same point), so they never pile up. No torch here:
the Train screen and ``tui-lora status`` call these too.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_lora.core.project import Project

_STOP_SAVE = re.compile(r"-step(\d{8})\.safetensors")


def stop_save_path(project: Project, step: int) -> Path:
    return project.output_dir / f"{project.output_name}-step{step:08d}.safetensors"


def stop_save_step(path: str | Path) -> int | None:
    """The step of a stop-save file's name, or None for an epoch or final file."""
    m = _STOP_SAVE.search(Path(str(path)).name)
    return int(m.group(1)) if m else None


def prune_stop_saves(project: Project, keep: Path) -> list[Path]:
    """Delete the project's stop-saves other than ``keep`` (superseded by it); returns what went."""
    gone = []
    prefix = f"{project.output_name}-step"
    if not project.output_dir.is_dir():
        return gone
    for path in project.output_dir.iterdir():
        if path.name.startswith(prefix) and stop_save_step(path) is not None and path != keep and path.is_file():
            with contextlib.suppress(OSError):  # a file that cannot go stays; the next stop tries again
                path.unlink()
                gone.append(path)
    return gone


def current_saves(saves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's ``save`` events without the stop-saves a later stop superseded (its files are gone)."""
    stops = [i for i, ev in enumerate(saves) if stop_save_step(ev.get("path", "")) is not None]
    superseded = set(stops[:-1])
    return [ev for i, ev in enumerate(saves) if i not in superseded]


def save_label(ev: dict[str, Any]) -> str:
    """How a list of saved files names one: ``epoch 3``, or ``stopped at step 19`` for a stop-save."""
    step = stop_save_step(ev.get("path", ""))
    if step is not None:
        return f"stopped at step {step}"
    return f"epoch {ev.get('epoch', '?')}"
