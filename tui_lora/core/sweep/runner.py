"""Train a sweep's variants: one after another in this process (one GPU, or the CPU), or one per GPU
at a time in worker processes with a queue for the rest (``gpus`` > 1).

In this process the base model is loaded once and kept while the variants use the same model and
precision (:class:`~tui_lora.core.train.reuse.ModelShare`); the latents are cached once and reused
while the images, buckets and mirroring stay the same (:class:`~tui_lora.core.train.reuse.LatentShare`).
A variant that fails (NaN, out of memory, a bad setting) is recorded as failed and the next one
starts. ``cancel`` (a stop: SIGTERM or Ctrl-C) makes the running variant save its LoRA and resume
state; the variants after it stay queued for ``--resume``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tui_lora.core.errors import Namer, Notice, UserError, neutral_name
from tui_lora.core.fsutil import open_append
from tui_lora.core.sweep.manifest import SweepManifest
from tui_lora.core.sweep.prepare import begin_variant, end_interrupted
from tui_lora.core.sweep.variant import VariantProject
from tui_lora.core.train.record import read_record

if TYPE_CHECKING:
    from tui_lora.core.project import Project

WORKER_ENV = "TUI_LORA_SWEEP_WORKER"
Say = Callable[[str], None]


@dataclass
class SweepResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, Notice] = field(default_factory=dict)  # label → why
    stopped: list[str] = field(default_factory=list)  # stopped with their state saved (or never started)
    skipped: list[str] = field(default_factory=list)  # finished before this run
    model_loads: int = 0
    latent_builds: int = 0
    seconds: float = 0.0

    @property
    def was_stopped(self) -> bool:
        return bool(self.stopped)

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        return {"done": self.done, "failed": {k: v.text(name) for k, v in self.failed.items()},
                "stopped": self.stopped, "skipped": self.skipped,
                "model_loads": self.model_loads, "latent_builds": self.latent_builds,
                "seconds": round(self.seconds, 1)}


def _header(n: int, total: int, variant, resume: bool) -> str:
    how = "resuming" if resume else "training"
    return f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} variant {n}/{total} {variant.label} ({variant.describe()}): {how}"


def run_in_process(project: Project, manifest: SweepManifest, *, cancel: threading.Event,
                   on_event: Callable[[dict[str, Any]], None] | None = None,
                   before_variant: Callable[[], None] = lambda: None,
                   device: str | None = None, stream: IO[str] | None = None, quiet: bool = False,
                   say: Say = lambda m: None, name: Namer = neutral_name) -> SweepResult:
    """Every variant not done yet, one after another (see the module docstring)."""
    from tui_lora.core.train.latents import LatentShare
    from tui_lora.core.train.reuse import ModelShare
    from tui_lora.core.train.run import train_project
    from tui_lora.core.train.device import resolve_device

    t0 = time.monotonic()
    result = SweepResult()
    models, latents = ModelShare(), LatentShare()
    dev = resolve_device(device)  # a GPU asked for and missing fails the sweep, not each variant
    total = len(manifest.variants)
    for n, variant in enumerate(manifest.variants, start=1):
        view = VariantProject.of(project, variant.label)
        record = read_record(view)
        if record is not None and record.status == "finished":
            result.skipped.append(variant.label)
            continue
        if cancel.is_set():
            result.stopped.append(variant.label)
            continue
        resume = begin_variant(view, list(variant.overrides))
        say(_header(n, total, variant, resume))
        before_variant()
        base = settings = None
        try:
            with open_append(view.train_log_path, encoding="utf-8") as log:
                log.write(_header(n, total, variant, resume) + "\n")
                log.flush()
                try:
                    settings = view.effective_settings(_overrides(view, variant, resume))
                    base = models.get(settings, dev, log=say)
                    run = train_project(view, overrides=list(variant.overrides), stream=stream, cancel=cancel,
                                        on_event=on_event, device=device, base_model=base, quiet=quiet,
                                        resume=resume, log=log, latents=latents, name=name)
                except UserError as exc:
                    _failed(view, exc.notice)
                    result.failed[variant.label] = exc.notice
                    say(f"variant {variant.label} failed: {exc.notice.text(name)}")
                    continue
                except KeyboardInterrupt:
                    end_interrupted(view, "interrupted")
                    raise
                except Exception as exc:  # noqa: BLE001 - one variant's surprise must not end the others
                    message = Notice(f"Training failed ({type(exc).__name__}: {exc})")
                    _failed(view, message)
                    result.failed[variant.label] = message
                    say(f"variant {variant.label} failed: {message.text(name)}")
                    continue
                finally:
                    if base is not None and settings is not None:
                        models.give_back(settings)
                    _free(dev)
        except OSError as exc:
            raise UserError(f"Cannot write {view.train_log_path} ({exc.strerror or exc}); free disk space or fix "
                            "the folder's permissions.") from None
        if run.stopped:
            result.stopped.append(variant.label)
        else:
            result.done.append(variant.label)
    result.model_loads, result.latent_builds = models.loads, latents.builds
    result.seconds = time.monotonic() - t0
    return result


def _overrides(view: VariantProject, variant, resume: bool) -> list[str]:
    from tui_lora.core.train.record import merge_overrides

    record = read_record(view) if resume else None
    return merge_overrides(record.overrides, list(variant.overrides)) if record else list(variant.overrides)


def _failed(view: VariantProject, message: Notice) -> None:
    """The trainer records its own failures; this covers those before it took over (the model load)."""
    end_interrupted(view, message, failed=True)


def _free(dev: str) -> None:
    from tui_lora.core.train.pipeline import free_memory

    free_memory(dev)


# ----- several GPUs: a worker process per variant -------------------------------------------------
def gpu_slots(gpus: int, device: str | None) -> list[str | None]:
    """What each worker gets as CUDA_VISIBLE_DEVICES (None on the CPU: ``--device cpu`` runs N processes)."""
    if device == "cpu":
        return [None] * gpus
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in visible.split(",") if d.strip()] if visible is not None else [str(i) for i in range(gpus)]
    return ids[:gpus]


def worker_command(project: Project, label: str, *, resume: bool, device: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "tui_lora", "sweep", str(project.root), "--worker", label]
    if resume:
        cmd.append("--worker-resume")
    if device:
        cmd += ["--device", "cpu" if device == "cpu" else "cuda"]
    return cmd


def _die_with_parent() -> None:
    from tui_lora.core.train.launch import _die_with_parent as die

    die()


def run_parallel(project: Project, manifest: SweepManifest, *, cancel: threading.Event, gpus: int,
                 device: str | None = None, say: Say = lambda m: None, poll_s: float = 0.2,
                 name: Namer = neutral_name) -> SweepResult:
    """One variant per GPU at a time (``gpus`` workers), the rest queued; a stop reaches every worker."""
    t0 = time.monotonic()
    result = SweepResult()
    queue = []
    for variant in manifest.variants:
        record = read_record(VariantProject.of(project, variant.label))
        if record is not None and record.status == "finished":
            result.skipped.append(variant.label)
        else:
            queue.append(variant)
    slots = gpu_slots(gpus, device)
    running: dict[int, tuple[subprocess.Popen, Any]] = {}
    forwarded = False
    total = len(manifest.variants)
    while queue or running:
        if cancel.is_set() and not forwarded:
            forwarded = True
            for proc, _v in running.values():
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for slot in range(len(slots)):
            if slot in running or not queue or cancel.is_set():
                continue
            variant = queue.pop(0)
            view = VariantProject.of(project, variant.label)
            resume = begin_variant(view, list(variant.overrides))
            n = manifest.variants.index(variant) + 1
            say(_header(n, total, variant, resume) + (f" on GPU {slots[slot]}" if slots[slot] is not None else
                                                       f" in worker {slot + 1}"))
            env = dict(os.environ)
            env[WORKER_ENV] = "1"
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // len(slots))))
            if slots[slot] is not None:
                env["CUDA_VISIBLE_DEVICES"] = slots[slot]
            with open_append(view.train_log_path, "ab") as log:
                log.write((_header(n, total, variant, resume) + "\n").encode())
                log.flush()
                proc = subprocess.Popen(worker_command(project, variant.label, resume=resume, device=device),
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        process_group=0, preexec_fn=_die_with_parent)
            running[slot] = (proc, variant)
        for slot, (proc, variant) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[slot]
            view = VariantProject.of(project, variant.label)
            record = read_record(view)
            state = record.status if record is not None else "failed"
            if state == "running":  # died before its trainer could say (killed, a crash while loading)
                message = Notice(f"The variant's process ended with exit code {code}",
                                 f"see {view.train_log_path}")
                end_interrupted(view, message, failed=not cancel.is_set())
                record = read_record(view)
                state = record.status if record is not None else "failed"
            if state == "finished":
                result.done.append(variant.label)
            elif state == "stopped":
                result.stopped.append(variant.label)
            else:
                message = (record.message if record is not None else None) or Notice(f"exit code {code}")
                result.failed[variant.label] = message
                say(f"variant {variant.label} failed: {message.text(name)}")
        if running:
            time.sleep(poll_s)
    result.stopped += [v.label for v in queue]
    result.seconds = time.monotonic() - t0
    return result


def run_worker(project: Project, label: str, *, resume: bool, device: str | None, cancel: threading.Event,
               on_event: Callable[[dict[str, Any]], None] | None = None, stream: IO[str] | None = None,
               name: Namer = neutral_name):
    """What one worker process runs: its variant (prepared by the parent) through the trainer."""
    from tui_lora.core.sweep.manifest import read_manifest
    from tui_lora.core.train.run import train_project

    manifest = read_manifest(project)
    variant = manifest.variant(label) if manifest is not None else None
    if variant is None:
        raise UserError(f"The sweep has no variant {label}; start the sweep again.")
    view = VariantProject.of(project, label)
    return train_project(view, overrides=list(variant.overrides), stream=stream, cancel=cancel, on_event=on_event,
                         device=device, resume=resume, name=name)


def sweep_log_path(project: Project) -> Path:
    from tui_lora.core.sweep.variant import sweep_logs_dir

    return sweep_logs_dir(project) / "sweep.log"
