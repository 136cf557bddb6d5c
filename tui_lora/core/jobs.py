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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core import joblock
from tui_lora.core.childenv import child_env
from tui_lora.core.errors import Fix, Namer, Notice, RunAction, UserError, neutral_name
from tui_lora.core.fsutil import open_append
from tui_lora.core.events import EventTail, EventWriter, RunSummary, read_events, summarize
from tui_lora.core.jobrun import prepare_run, run_job
from tui_lora.core.outputs import current_saves
from tui_lora.core.train.record import read_record, update_record

__all__ = ["JobInfo", "JobStatus", "StopResult", "STATES", "caption_edit_warning", "follow", "is_running",
           "job_status", "run_job", "start_job", "stop_job"]

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
    message: Notice | None = None  # why it stopped or failed
    resumable: bool = False  # resuming (the train.resume action) would continue it
    resume_step: int | None = None
    resume_epoch: int | None = None  # epochs completed at the resume point
    files: list[str] = field(default_factory=list)  # LoRA files saved by the run, oldest first
    last_activity: float | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        """As JSON; ``name`` names the steps of the sentences' fixes (a front end's words)."""
        s = self.summary
        message = self.message
        return {"state": self.state, "pid": self.pid, "detached": self.detached,
                "message": message.text(name) if message else None,
                "fix": message.fix.to_dict(name) if message and message.fix else None,
                "resumable": self.resumable, "resume_step": self.resume_step,
                "resume_epoch": self.resume_epoch, "step": s.step,
                "total_steps": s.total_steps, "epoch": s.epoch, "epochs": s.epochs, "loss": s.loss,
                "avg_loss": s.avg_loss, "lr": s.lr, "it_per_s": s.it_per_s, "eta_s": s.eta_s, "device": s.device,
                "files": self.files, "final": s.final_path, "warnings": [w.text(name) for w in s.warnings],
                "error": s.error.text(name) if s.error else None, "last_activity": self.last_activity}


@dataclass(frozen=True)
class StopResult:
    was_running: bool
    stopped: bool  # the process is gone
    forced: bool
    status: JobStatus

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        return {"was_running": self.was_running, "stopped": self.stopped, "forced": self.forced,
                **self.status.to_dict(name)}


# ----- status ---------------------------------------------------------------------------------
def is_running(project) -> bool:
    return joblock.live_lock(project) is not None


def job_status(project, summary: RunSummary | None = None) -> JobStatus:
    """The state of the project's latest run (``summary`` may be passed when already at hand)."""
    if summary is None:
        summary = summarize(read_events(project.events_path))
    record = read_record(project)
    lock = joblock.live_lock(project)
    status = JobStatus("none", summary, files=[str(e.get("path")) for e in current_saves(summary.saves)],
                       last_activity=_last_activity(project, summary))
    if record is not None and record.status != "finished":
        status.resumable = record.resumable
        status.resume_step = record.step if record.resumable else None
        status.resume_epoch = record.epoch if record.resumable else None
    if lock is not None:
        status.state, status.pid, status.detached = "running", lock.pid, lock.detached
        status.resumable, status.resume_step, status.resume_epoch = False, None, None
    elif summary.state == "finished" or (record is not None and record.status == "finished"):
        status.state = "finished"
    elif record is not None and record.status in ("stopped", "failed"):
        status.state, status.message = record.status, record.message
    elif record is not None or summary.state != "none":
        # Recorded as running (or events without an end) but no process: killed, OOM-killed, rebooted.
        status.state = "failed"
        step, root = max(summary.step, record.step if record else 0), str(project.root)
        if status.resumable:
            status.message = Notice(f"The training process ended unexpectedly at step {step} (killed, out of memory "
                                    "or the machine restarted)",
                                    Fix(f"{{}} continues from step {status.resume_step}",
                                        RunAction("train.resume", root)))
        else:
            status.message = summary.error or Notice(
                f"The training process ended unexpectedly at step {step} (see {project.train_log_path})",
                Fix("start it again with {}", RunAction("train.start", root)))
    return status


def caption_edit_warning(project) -> str | None:
    """One sentence when a training of ``project`` runs while its captions are about to change, else None."""
    if not is_running(project):
        return None
    return ("A training of this project is running; it keeps the captions it read when it started, so these "
            "changes count from the next run.")


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
    return spawn_detached(project, cmd, Path(project.train_log_path), resume=resume,
                          prepare=lambda: prepare_run(project, resume=resume, restart=restart, overrides=overrides,
                                                      gpus=gpus))


def spawn_detached(project, cmd: list[str], log_path: Path, *, resume: bool, prepare: Callable[[], object]) -> JobInfo:
    """Run ``cmd`` as a detached job of ``project`` (a training or a sweep): the lock is taken,
    ``prepare`` raises its refusals before anything starts, the child logs to ``log_path`` in a new
    session and is handed the lock. The guard is held until the child owns the lock, so a second start
    waits and then names the child's pid, and a `stop` in between never signals the starter."""
    with joblock.guard(project):
        lock = joblock.acquire(project, detached=True, command=cmd)
        try:
            prepare()
            log_path.parent.mkdir(parents=True, exist_ok=True)
            env = child_env(**{joblock.TOKEN_ENV: lock.token})
            with open_append(log_path, "ab") as log:
                log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd[1:])}\n".encode())
                log.flush()
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
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
    with joblock.guard(project):  # a start under way finishes its hand-over first
        lock = joblock.live_lock(project)
    if lock is None:
        return StopResult(False, False, False, job_status(project))
    if not joblock.verifiable():
        raise UserError(f"This system has no /proc to prove that pid {lock.pid} is this project's training, so "
                        "nothing was signalled",
                        Fix(f"stop it with `kill {lock.pid}` if it is, or delete {joblock.lock_path(project)} if it "
                            "is not"))
    if joblock.proven(project, lock):  # checked again right before the signal, never on a guess
        with contextlib.suppress(ProcessLookupError):
            os.kill(lock.pid, signal.SIGTERM)
    gone = _wait_gone(lock, timeout)
    forced = False
    if not gone and force and joblock.proven(project, lock):
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
        message = Notice(f"Training was killed at step {summary.step}",
                         Fix(f"{{}} continues from step {record.step}, the last saved state",
                             RunAction("train.resume", str(project.root))))
    else:
        message = Notice(f"Training was killed at step {summary.step} before any state was saved")
    update_record(project, status="stopped", message=message)
    EventWriter(project.events_path).emit("warning", **message.to_dict())
