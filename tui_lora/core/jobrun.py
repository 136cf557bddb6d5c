"""Run a training in this process under the project's lock: what ``tui-lora train DIR`` runs, in a
terminal or as the detached job :func:`tui_lora.core.jobs.start_job` starts.

Ctrl-C and SIGTERM (``tui-lora stop``) become a clean stop: the trainer finishes its step, saves
the LoRA and the resume state, and returns. A second Ctrl-C, or any signal while the model is
still loading (nothing to save yet), aborts at once; the state from the last save stays valid.
With ``gpus`` > 1 this process holds the lock and runs accelerate's launcher
(:mod:`tui_lora.core.train.launch`), forwarding a stop to every worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from tui_lora.core import joblock
from tui_lora.core.errors import Fix, Namer, Notice, RunAction, UserError, Words, neutral_name
from tui_lora.core.events import EventWriter, read_events, summarize
from tui_lora.core.settings import Settings
from tui_lora.core.fsutil import open_append
from tui_lora.core.setting_rules import check_training_overrides
from tui_lora.core.signals import route_signals
from tui_lora.core.train.record import (
    RunRecord,
    check_resume,
    merge_overrides,
    read_record,
    record_path,
    update_record,
    write_record,
)


# ----- preparing a run ------------------------------------------------------------------------
def _settings_for(project, resume: bool, overrides: list[str]) -> tuple[list[str], Settings]:
    record = read_record(project) if resume else None
    merged = merge_overrides(record.overrides, overrides) if record is not None else list(overrides)
    return merged, project.effective_settings(merged)


def resume_or_restart(project) -> Fix:
    root = str(project.root)
    return Fix("continue it with {}, or start over with {}", RunAction("train.resume", root),
               RunAction("train.restart", root))


def prepare_run(project, *, resume: bool, restart: bool, overrides: list[str], gpus: int) -> None:
    """Checks and bookkeeping before a run starts (the caller holds the lock): a resume is checked
    against the saved state; a new run refuses to discard a resumable one unless ``restart``, then
    archives the previous run's logs and state."""
    if resume and restart:
        raise UserError(Words("{} continues the stopped training and {} discards it", RunAction("train.resume"),
                              RunAction("train.restart")), Fix("use one of them"))
    check_training_overrides(overrides)
    record = read_record(project)
    if resume:
        merged, settings = _settings_for(project, True, overrides)
        check_resume(project, record, settings)
        update_record(project, status="running", message=None)
        return
    # A bad --set or an empty dataset fails here, before anything is archived or started.
    check_has_images(project, project.effective_settings(overrides))
    # A stopped or killed run is there to be resumed; after a failure (NaN, out of memory) users
    # usually change settings and start over, so that needs no --restart.
    if record is not None and record.resumable and record.status in ("stopped", "running") and not restart:
        raise UserError(f"This project has a stopped training at step {record.step} of {record.total_steps}",
                        resume_or_restart(project))
    archive_logs(project)
    for p in Path(project.state_dir).glob("checkpoint-*.pt"):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(FileNotFoundError):
        record_path(project).unlink()
    write_record(project, RunRecord(status="running", overrides=list(overrides), gpus=gpus))


def check_has_images(project, settings: Settings) -> None:
    """Refuse a run on a dataset without images (the detached process would only fail later)."""
    from tui_lora.core.train.layout import project_layout
    from tui_lora.core.train.setup import check_dataset

    check_dataset(project_layout(project, settings.dataset), project)


def archive_logs(project) -> None:
    """Move the previous run's events.jsonl and train.log to logs/previous/ (a new run starts afresh)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = Path(project.logs_dir) / "previous"
    for path in (Path(project.events_path), Path(project.train_log_path)):
        if path.exists() and path.stat().st_size:
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / f"{stamp}-{path.name}"
            n = 1
            while target.exists():
                n += 1
                target = dest / f"{stamp}-{n}-{path.name}"
            os.replace(path, target)



# ----- running in this process ----------------------------------------------------------------
class StopRequest:
    """The SIGINT / SIGTERM handler of a run, and what it has been asked so far."""

    def __init__(self, *, worker: bool = False) -> None:
        self.worker = worker  # one of N launched processes: the first signal stops, later ones are echoes
        self.cancel = threading.Event()  # the trainer stops after its current step
        self.started = threading.Event()  # the first step is under way (there is something to save)
        self.launcher: int | None = None  # pid of accelerate's launcher (multi-GPU)

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "start":
            self.started.set()

    def __call__(self, signum, frame) -> None:
        first = not self.cancel.is_set()
        self.cancel.set()
        if self.worker:
            return
        hard = not first and signum == signal.SIGINT
        if self.launcher is not None:
            self.forward(kill=hard)
        elif hard or not self.started.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C, or nothing trained yet: abort now
        if first:
            _say("stopping after this step: saving the LoRA and the training state (Ctrl-C again to abort)")

    def forward(self, *, kill: bool = False) -> None:
        """SIGTERM to every worker (SIGKILL to them and the launcher when ``kill``)."""
        if self.launcher is None:
            return
        for pid in joblock.descendants(self.launcher) + ([self.launcher] if kill else []):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)


def _say(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, ("\n" + text + "\n").encode())  # async-signal-safe, unlike print


def run_job(project, *, resume: bool = False, restart: bool = False, overrides: list[str] | tuple[str, ...] = (),
            gpus: int = 1, device: str | None = None, stream: IO[str] | None = None, quiet: bool = False,
            name: Namer = neutral_name):
    """Train in this process (or, with ``gpus`` > 1, in N launched ones) under the project's lock.

    Returns the :class:`~tui_lora.core.train.trainer.TrainResult` (``stopped`` after a Ctrl-C or a
    ``stop``); raises :class:`UserError` for failures and refusals, KeyboardInterrupt for a hard abort.
    ``name`` names the steps of the warnings' fixes (the caller's words for them).
    """
    from tui_lora.core.train import launch

    overrides = list(overrides)
    stop = StopRequest(worker=launch.is_worker())
    with route_signals(stop):
        if stop.worker:  # one of N processes started by the launcher: the parent holds the lock
            return _train_here(project, stop, resume=resume, overrides=overrides, gpus=gpus, device=device,
                               stream=stream, quiet=quiet, name=name)
        token = os.environ.pop(joblock.TOKEN_ENV, None)
        if token:  # the detached process: start_job created the lock and prepared the run
            lock = joblock.adopt(project, token)
        else:
            launch.check_gpus(gpus, device)
            lock = joblock.acquire(project, command=sys.argv)
        try:
            if not token:
                prepare_run(project, resume=resume, restart=restart, overrides=overrides, gpus=gpus)
            if gpus > 1:
                # The workers' progress goes where ours would (stderr when stdout is kept for --json).
                return _train_launched(project, stop, resume=resume, overrides=overrides, gpus=gpus, device=device,
                                       stdout=sys.stderr if stream is sys.stderr else None)
            if token:  # detached: stdout already is logs/train.log
                return _train_here(project, stop, resume=resume, overrides=overrides, gpus=gpus, device=device,
                                   stream=stream, quiet=quiet, name=name)
            # In the foreground the same lines also go to logs/train.log, so `status` and the wizard's
            # Train screen show a log whoever started the run.
            project.train_log_path.parent.mkdir(parents=True, exist_ok=True)
            with open_append(project.train_log_path, encoding="utf-8") as log:
                log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv[1:])} (foreground)\n")
                return _train_here(project, stop, resume=resume, overrides=overrides, gpus=gpus, device=device,
                                   stream=stream, quiet=quiet, log=log, name=name)
        except KeyboardInterrupt:
            _interrupted_outside(project)
            raise
        finally:
            joblock.release(project, lock.token)


def _interrupted_outside(project) -> None:
    """An abort before the trainer took over (or after it let go) leaves the record as the trainer would."""
    record = read_record(project)
    if record is not None and record.status == "running":
        from tui_lora.core.train.run import interrupted_message

        update_record(project, status="stopped", message=interrupted_message(project, record, 0))


def _train_here(project, stop: StopRequest, *, resume: bool, overrides: list[str], gpus: int, device: str | None,
                stream: IO[str] | None, quiet: bool, log: IO[str] | None = None, name: Namer = neutral_name):
    from tui_lora.core.train.run import train_project

    return train_project(project, overrides=overrides, stream=stream, cancel=stop.cancel, on_event=stop.on_event,
                         device=device, quiet=quiet, resume=resume, gpus=gpus, log=log, name=name)


def _train_launched(project, stop: StopRequest, *, resume: bool, overrides: list[str], gpus: int,
                    device: str | None, stdout=None):
    from tui_lora.core.train.launch import launcher_command, start_launcher

    cmd = launcher_command(project.root, gpus=gpus, device=device, resume=resume, overrides=overrides)
    proc = start_launcher(cmd, gpus=gpus, stdout=stdout)
    stop.launcher = proc.pid
    forwarded = False
    while proc.poll() is None:
        if stop.cancel.is_set() and not forwarded:
            stop.forward()  # a stop that came before the workers existed reaches them now
            forwarded = bool(joblock.descendants(proc.pid))
        with contextlib.suppress(Exception):
            proc.wait(timeout=0.5)
    return _launched_result(project, proc.returncode)


def _launched_result(project, code: int):
    """The outcome of a launched run, from what its main process wrote."""
    from tui_lora.core.train.trainer import TrainResult

    summary = summarize(read_events(project.events_path))
    record = read_record(project)
    if record is not None and record.status == "running":
        message = Notice(f"The training processes ended with exit code {code} before finishing",
                         Fix(f"see {project.train_log_path} or the output above"))
        update_record(project, status="failed", message=message)
        EventWriter(project.events_path).emit("error", **message.to_dict())
        record = read_record(project)
    status = record.status if record is not None else ("finished" if code == 0 else "failed")
    if status == "failed":
        notice = record.message if record and record.message else Notice(f"Training failed (exit code {code})")
        raise UserError.from_notice(notice, exit_code=1 if code in (0, 1) else code)
    files = [Path(str(e["path"])) for e in summary.saves]
    final = Path(summary.final_path) if summary.final_path else None
    seconds = (summary.updated or 0.0) - (summary.started or summary.updated or 0.0)
    return TrainResult(final, summary.step, record.epoch if record else summary.epoch, seconds, files,
                       stopped=status == "stopped", loss=summary.loss, warnings=list(summary.warnings))
