"""Before a sweep starts (the caller holds the project's job lock): a new sweep is checked and written,
the previous one set aside; a resumed one is read back. Each variant then gets a fresh or a resumed
run record right before it trains (:func:`begin_variant`). No torch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.errors import Fix, Notice, RunAction, UserError
from tui_lora.core.sweep.manifest import SweepManifest, read_manifest, write_manifest
from tui_lora.core.sweep.spec import Vary, combinations, plan_variants
from tui_lora.core.sweep.status import sweep_status
from tui_lora.core.sweep.variant import VariantProject, sweep_logs_dir, sweep_output_dir, sweep_state_dir
from tui_lora.core.train.record import RunRecord, read_record, record_path, update_record, write_record

if TYPE_CHECKING:
    from tui_lora.core.project import Project


def prepare_sweep(project: Project, varies: list[Vary] | None, *, resume: bool, restart: bool = False,
                  confirmed: bool = False, gpus: int = 1, device: str | None = None) -> SweepManifest:
    """The manifest to run: the stopped sweep (``resume``), or a new one from ``varies`` (refused while
    a stopped sweep waits, unless ``restart``; the previous sweep's files are set aside, never deleted)."""
    from tui_lora.core.jobrun import check_has_images

    if resume and restart:
        raise UserError("Resuming continues the stopped sweep and restarting discards it; choose one of them.")
    if resume:
        manifest = read_manifest(project)
        if manifest is None:
            raise UserError(f"This project has no sweep to resume ({project.root / 'state' / 'sweep'} is empty)",
                            Fix("start one with {}", RunAction("sweep.start", str(project.root))))
        if varies is not None and [v.label for v in combinations(varies)] != [v.label for v in manifest.variants]:
            raise UserError("Resuming continues the sweep as it was started, with the same variants; leave out the "
                            "varied settings, or start a new sweep over it.")
        status = sweep_status(project)
        if status is not None and not status.pending:
            raise UserError("Every variant of this sweep is already done; compare them, or start a new sweep.")
        check_has_images(project, project.settings)
        manifest.gpus, manifest.device = gpus, device
        write_manifest(project, manifest)
        return manifest
    if varies is None:
        from tui_lora.core.sweep.spec import NAME_ONE

        raise UserError("A sweep needs at least one setting to vary", NAME_ONE)
    variants = plan_variants(project, varies, confirmed=confirmed)
    check_has_images(project, project.effective_settings(list(variants[0].overrides)))
    previous = sweep_status(project)
    if previous is not None and not restart and any(v.state in ("stopped", "running") or
                                                    (v.state == "queued" and previous.count("done"))
                                                    for v in previous.variants):
        done = previous.count("done")
        root = str(project.root)
        raise UserError(f"This project has a stopped sweep ({done} of {len(previous.variants)} variants done)",
                        Fix("continue it with {}, or set it aside and train the new one with {}",
                            RunAction("sweep.resume", root), RunAction("sweep.restart", root)))
    set_aside(project)
    manifest = SweepManifest(varies, variants, gpus=gpus, device=device)
    write_manifest(project, manifest)
    return manifest


def set_aside(project: Project) -> Path | None:
    """Move the previous sweep's LoRA files to ``output/previous-sweeps/<time>/`` and its logs to
    ``logs/previous/sweep-<time>/``; its resume state is dropped. Returns where the files went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = None
    out = sweep_output_dir(project)
    if out.is_dir() and any(out.iterdir()):
        moved = _free_name(project.root / "output" / "previous-sweeps" / stamp)
        moved.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, moved)
    logs = sweep_logs_dir(project)
    if logs.is_dir() and any(logs.iterdir()):
        target = _free_name(project.root / "logs" / "previous" / f"sweep-{stamp}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(logs, target)
    state = sweep_state_dir(project)
    if state.is_dir():
        shutil.rmtree(state, ignore_errors=True)
    return moved


def _free_name(path: Path) -> Path:
    n, candidate = 2, path
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def begin_variant(view: VariantProject, overrides: list[str], *, gpus: int = 1) -> bool:
    """Get a variant ready to train; True when it resumes from its saved state. A variant that failed
    or never saved state starts over (its earlier events and log move to ``previous/``)."""
    view.ensure_layout()
    record = read_record(view)
    if record is not None and record.resumable and record.status in ("stopped", "running"):
        update_record(view, status="running", message=None)
        return True
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (view.events_path, view.train_log_path):
        if path.exists() and path.stat().st_size:
            target = _free_name(view.logs_dir / "previous" / f"{stamp}-{path.name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    for p in Path(view.state_dir).glob("checkpoint-*.pt"):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(FileNotFoundError):
        record_path(view).unlink()
    write_record(view, RunRecord(status="running", overrides=list(overrides), gpus=gpus))
    return False


def end_interrupted(view: VariantProject, message: Notice | str, *, failed: bool = False) -> None:
    """A variant whose run ended without the trainer recording how (a hard abort, a worker that died)."""
    record = read_record(view)
    if record is not None and record.status == "running":
        update_record(view, status="failed" if failed else "stopped", message=message)
