"""Training jobs: start one in the background, watch it, stop it, run one in the foreground.

The wizard and the CLI share these calls (plain data in, data objects out, no printing):

- :func:`start_job` starts ``tui-lora train`` as a detached process (new session: it survives the
  terminal, the SSH connection and the wizard), output in ``logs/train.log``.
- :func:`job_status` says running / stopped / finished / failed / none ("never run") with the
  :class:`~tui_lora.core.events.RunSummary` of ``logs/events.jsonl``; :func:`is_running`.
- :func:`stop_job` asks the trainer to stop (SIGTERM: it finishes the step, saves the LoRA and the
  resume state, then exits), waits a bounded time, and can kill as a last resort.
- :func:`run_job` trains in this process under the same lock (what ``tui-lora train`` runs, and
  what the detached process runs), with Ctrl-C / SIGTERM turned into a clean stop.

One project never runs two trainings: :mod:`tui_lora.core.joblock`. Resume state and the run's
record: :mod:`tui_lora.core.train.record` and :mod:`tui_lora.core.train.checkpoint`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tui_lora.core import joblock
from tui_lora.core.errors import UserError
from tui_lora.core.events import EventTail, EventWriter, RunSummary, read_events, summarize
from tui_lora.core.train.record import (
    RunRecord,
    check_resume,
    merge_overrides,
    read_record,
    update_record,
    write_record,
)

STATES = ("none", "running", "stopped", "finished", "failed")


@dataclass(frozen=True)
class JobInfo:
    pid: int
    detached: bool
    resume: bool
    log_path: Path
    command: list[str]
    started: float

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "detached": self.detached, "resume": self.resume, "log": str(self.log_path),
                "command": self.command, "started": self.started}


@dataclass
class JobStatus:
    state: str  # one of STATES; "none" means never run
    summary: RunSummary
    pid: int | None = None  # of the running job
    detached: bool = False
    message: str | None = None  # why it stopped or failed
    resumable: bool = False  # `tui-lora train DIR --resume` would continue it
    resume_step: int | None = None
    files: list[str] = field(default_factory=list)  # LoRA files saved by the run, oldest first
    last_activity: float | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {"state": self.state, "pid": self.pid, "detached": self.detached, "message": self.message,
                "resumable": self.resumable, "resume_step": self.resume_step, "step": s.step,
                "total_steps": s.total_steps, "epoch": s.epoch, "epochs": s.epochs, "loss": s.loss,
                "avg_loss": s.avg_loss, "lr": s.lr, "it_per_s": s.it_per_s, "eta_s": s.eta_s, "device": s.device,
                "files": self.files, "final": s.final_path, "warnings": s.warnings, "error": s.error,
                "last_activity": self.last_activity}


@dataclass(frozen=True)
class StopResult:
    was_running: bool
    stopped: bool  # the process is gone
    forced: bool
    status: JobStatus

    def to_dict(self) -> dict[str, Any]:
        return {"was_running": self.was_running, "stopped": self.stopped, "forced": self.forced,
                **self.status.to_dict()}


# ----- status ---------------------------------------------------------------------------------
def is_running(project) -> bool:
    return joblock.live_lock(project) is not None


def job_status(project, summary: RunSummary | None = None) -> JobStatus:
    """The state of the project's latest run (``summary`` may be passed when already at hand)."""
    if summary is None:
        summary = summarize(read_events(project.events_path))
    record = read_record(project)
    lock = joblock.live_lock(project)
    status = JobStatus("none", summary, files=[str(e.get("path")) for e in summary.saves],
                       last_activity=_last_activity(project, summary))
    if record is not None and record.status != "finished":
        status.resumable = record.resumable
        status.resume_step = record.step if record.resumable else None
    if lock is not None:
        status.state, status.pid, status.detached = "running", lock.pid, lock.detached
        status.resumable = False
    elif summary.state == "finished" or (record is not None and record.status == "finished"):
        status.state = "finished"
    elif record is not None and record.status in ("stopped", "failed"):
        status.state, status.message = record.status, record.message
    elif record is not None or summary.state != "none":
        # Recorded as running (or events without an end) but no process: killed, OOM-killed, rebooted.
        status.state = "failed"
        step = max(summary.step, record.step if record else 0)
        if status.resumable:
            status.message = (f"The training process ended unexpectedly at step {step} (killed, out of memory or the "
                              f"machine restarted); `tui-lora train {project.root} --resume` continues from step "
                              f"{status.resume_step}.")
        else:
            status.message = summary.error or (
                f"The training process ended unexpectedly at step {step}; see {project.train_log_path} and start "
                f"it again with `tui-lora train {project.root}`.")
    return status


def _last_activity(project, summary: RunSummary) -> float | None:
    times = [summary.updated] if summary.updated else []
    with contextlib.suppress(OSError):
        times.append(project.train_log_path.stat().st_mtime)
    return max(times, default=None)


def follow(project, *, interval: float = 1.0, stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    """Yield the run's events as they are written, until no training runs any more (or ``stop``)."""
    tail = EventTail(project.events_path)
    while True:
        running = is_running(project)
        yield from tail.read_new()
        if not running or (stop is not None and stop.is_set()):
            yield from tail.read_new()
            return
        time.sleep(interval)


# ----- preparing a run ------------------------------------------------------------------------
def _settings_for(project, resume: bool, overrides: list[str]) -> tuple[list[str], dict]:
    record = read_record(project) if resume else None
    merged = merge_overrides(record.overrides, overrides) if record is not None else list(overrides)
    return merged, project.effective_settings(merged)


def prepare_run(project, *, resume: bool, restart: bool, overrides: list[str], gpus: int) -> None:
    """Checks and bookkeeping before a run starts (the caller holds the lock): a resume is checked
    against the saved state; a new run refuses to discard a resumable one unless ``restart``, then
    archives the previous run's logs and state."""
    if resume and restart:
        raise UserError("--resume continues the stopped training and --restart discards it; use one of them.")
    record = read_record(project)
    if resume:
        merged, settings = _settings_for(project, True, overrides)
        check_resume(project, record, settings)
        update_record(project, status="running", message=None)
        return
    project.effective_settings(overrides)  # a bad --set fails here, before anything is archived
    if record is not None and record.resumable and not restart:
        raise UserError(f"This project has a stopped training at step {record.step} of {record.total_steps}; "
                        f"continue it with `tui-lora train {project.root} --resume`, or start over with "
                        f"`tui-lora train {project.root} --restart`.")
    archive_logs(project)
    from tui_lora.core.train.record import record_path

    for p in Path(project.state_dir).glob("checkpoint-*.pt"):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(FileNotFoundError):
        record_path(project).unlink()
    write_record(project, RunRecord(status="running", overrides=list(overrides), gpus=gpus))


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


# ----- background jobs ------------------------------------------------------------------------
def train_command(project, *, resume: bool, overrides: list[str], gpus: int, device: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "tui_lora", "train", str(project.root)]
    if resume:
        cmd.append("--resume")
    for text in overrides:
        cmd += ["--set", text]
    if gpus > 1:
        cmd += ["--gpus", str(gpus)]
    if device:
        cmd += ["--device", device]
    return cmd


def start_job(project, *, resume: bool = False, restart: bool = False, overrides: list[str] | tuple[str, ...] = (),
              gpus: int = 1, device: str | None = None) -> JobInfo:
    """Start training ``project`` in a detached process and return at once. Refusals (a training
    already running, nothing to resume, a changed config, a stopped run that ``restart`` would
    discard) are one-sentence :class:`UserError`s raised here, before anything starts."""
    from tui_lora.core.train.launch import check_gpus

    overrides = list(overrides)
    check_gpus(gpus, device)
    cmd = train_command(project, resume=resume, overrides=overrides, gpus=gpus, device=device)
    lock = joblock.acquire(project, detached=True, command=cmd)
    try:
        prepare_run(project, resume=resume, restart=restart, overrides=overrides, gpus=gpus)
        log_path = Path(project.train_log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env[joblock.TOKEN_ENV] = lock.token
        env.setdefault("PYTHONUNBUFFERED", "1")
        pythonpath = str(Path(__file__).resolve().parents[2])  # runs from a checkout too
        env["PYTHONPATH"] = pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(log_path, "ab") as log:
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd[1:])}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        lock = joblock.hand_over(project, lock, proc.pid)
        # Reap it when it ends, so a long-lived starter (the wizard) keeps no zombie.
        threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    except BaseException:
        joblock.release(project, lock.token)
        raise
    return JobInfo(proc.pid, True, resume, log_path, cmd, lock.started)


def stop_job(project, *, timeout: float = 120.0, force: bool = False) -> StopResult:
    """Ask the running training to stop and wait up to ``timeout`` seconds for it to save and exit;
    with ``force``, kill it (and its workers) if it has not exited by then. The state from its
    last save stays valid either way."""
    lock = joblock.live_lock(project)
    if lock is None:
        return StopResult(False, False, False, job_status(project))
    with contextlib.suppress(ProcessLookupError):
        os.kill(lock.pid, signal.SIGTERM)
    gone = _wait_gone(lock, timeout)
    forced = False
    if not gone and force:
        forced = True
        for pid in [*joblock.descendants(lock.pid), lock.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        gone = _wait_gone(lock, 10.0)
        if gone:
            _record_kill(project)
    if gone:
        joblock.clear_stale(project)
    return StopResult(True, gone, forced, job_status(project))


def _wait_gone(lock: joblock.LockInfo, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while joblock.process_alive(lock.pid, lock.start_ticks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _record_kill(project) -> None:
    record = read_record(project)
    if record is None or record.status != "running":
        return
    summary = summarize(read_events(project.events_path))
    if record.resumable:
        message = (f"Training was killed at step {summary.step}; `tui-lora train {project.root} --resume` continues "
                   f"from step {record.step}, the last saved state.")
    else:
        message = f"Training was killed at step {summary.step} before any state was saved."
    update_record(project, status="stopped", message=message)
    EventWriter(project.events_path).emit("warning", message=message)


# ----- running in this process ----------------------------------------------------------------
def run_job(project, *, resume: bool = False, restart: bool = False, overrides: list[str] | tuple[str, ...] = (),
            gpus: int = 1, device: str | None = None, stream: IO[str] | None = None, quiet: bool = False):
    """Train in this process (or, with ``gpus`` > 1, in N launched ones) under the project's lock.

    Returns the :class:`~tui_lora.core.train.trainer.TrainResult` (``stopped`` after a Ctrl-C or a
    ``stop``); raises :class:`UserError` for failures and refusals, KeyboardInterrupt for a hard abort.
    """
    from tui_lora.core.train import launch

    overrides = list(overrides)
    if launch.is_worker():  # one of N processes started by the launcher: the parent holds the lock
        return _train_here(project, resume=resume, overrides=overrides, gpus=gpus, device=device, stream=stream,
                           quiet=quiet, worker=True)
    token = os.environ.pop(joblock.TOKEN_ENV, None)
    if token:  # the detached process: start_job created the lock and prepared the run
        lock = joblock.adopt(project, token)
    else:
        launch.check_gpus(gpus, device)
        lock = joblock.acquire(project, command=sys.argv)
        try:
            prepare_run(project, resume=resume, restart=restart, overrides=overrides, gpus=gpus)
        except BaseException:
            joblock.release(project, lock.token)
            raise
    try:
        if gpus > 1:
            # Progress of the workers goes where ours would (stderr when stdout is kept for --json).
            return _train_launched(project, resume=resume, overrides=overrides, gpus=gpus, device=device,
                                   stdout=sys.stderr if stream is sys.stderr else None)
        return _train_here(project, resume=resume, overrides=overrides, gpus=gpus, device=device, stream=stream,
                           quiet=quiet, worker=False)
    finally:
        joblock.release(project, lock.token)


@contextlib.contextmanager
def _stop_signals(handler) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` (main thread only; elsewhere there is nothing to route)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _say(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, ("\n" + text + "\n").encode())  # async-signal-safe, unlike print


def _train_here(project, *, resume: bool, overrides: list[str], gpus: int, device: str | None,
                stream: IO[str] | None, quiet: bool, worker: bool):
    from tui_lora.core.train.run import train_project

    cancel = threading.Event()
    started = threading.Event()

    def on_signal(signum, frame):
        first = not cancel.is_set()
        cancel.set()
        if worker:
            return  # later signals are echoes of the same stop; the launcher's parent decides
        if not started.is_set() or (not first and signum == signal.SIGINT):
            raise KeyboardInterrupt  # nothing trained yet, or a second Ctrl-C: abort now
        if first:
            _say("stopping after this step: saving the LoRA and the training state (Ctrl-C again to abort)")

    def on_event(ev: dict[str, Any]) -> None:
        if ev.get("event") == "start":
            started.set()

    with _stop_signals(on_signal):
        return train_project(project, overrides=overrides, stream=stream, cancel=cancel, on_event=on_event,
                             device=device, quiet=quiet, resume=resume, gpus=gpus)


def _train_launched(project, *, resume: bool, overrides: list[str], gpus: int, device: str | None, stdout=None):
    from tui_lora.core.train.launch import launcher_command, start_launcher

    cmd = launcher_command(project.root, gpus=gpus, device=device, resume=resume, overrides=overrides)
    proc = start_launcher(cmd, gpus=gpus, stdout=stdout)
    signals = []

    def on_signal(signum, frame):
        signals.append(signum)
        hard = signum == signal.SIGINT and signals.count(signal.SIGINT) > 1
        for pid in joblock.descendants(proc.pid) + ([proc.pid] if hard else []):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
        if len(signals) == 1:
            _say("stopping after this step: saving the LoRA and the training state (Ctrl-C again to abort)")

    with _stop_signals(on_signal):
        code = proc.wait()
    return _launched_result(project, code)


def _launched_result(project, code: int):
    """The outcome of a launched run, from what its main process wrote."""
    from tui_lora.core.train.trainer import TrainResult

    summary = summarize(read_events(project.events_path))
    record = read_record(project)
    if record is not None and record.status == "running":
        message = (f"The training processes ended with exit code {code} before finishing; see "
                   f"{project.train_log_path} or the output above.")
        update_record(project, status="failed", message=message)
        EventWriter(project.events_path).emit("error", message=message)
        record = read_record(project)
    status = record.status if record is not None else ("finished" if code == 0 else "failed")
    if status == "failed":
        raise UserError(record.message if record and record.message else f"Training failed (exit code {code}).",
                        exit_code=1 if code in (0, 1) else code)
    files = [Path(str(e["path"])) for e in summary.saves]
    final = Path(summary.final_path) if summary.final_path else None
    seconds = (summary.updated or 0.0) - (summary.started or summary.updated or 0.0)
    return TrainResult(final, summary.step, record.epoch if record else summary.epoch, seconds, files,
                       stopped=status == "stopped", loss=summary.loss, warnings=list(summary.warnings))
