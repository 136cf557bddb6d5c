"""One training per project: ``state/train.lock``, created atomically, naming the process that trains.

The lock holds the pid *and* the process's start time (``/proc/<pid>/stat``), so a pid the kernel
later reuses for another program is not mistaken for the trainer. A lock whose process is gone
(killed, out of memory, machine restarted) is stale and is cleared by the next start.

A detached job is started by one process and run by another: the starter creates the lock with
a random ``token`` and passes the token to the child (``TUI_LORA_JOB_TOKEN``), which *adopts* the
lock by writing its own pid into it. Whoever holds the token releases the lock at exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tui_lora.core.errors import Fix, JobRunning, RunAction, UserError
from tui_lora.core.fsutil import atomic_write_text

LOCK_NAME = "train.lock"
TOKEN_ENV = "TUI_LORA_JOB_TOKEN"


@dataclass
class LockInfo:
    pid: int
    start_ticks: int | None  # field 22 of /proc/<pid>/stat; None where /proc is missing
    token: str
    started: float  # unix time the job started
    detached: bool = False
    command: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when it does not exist or /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = data[data.rfind(b")") + 2:].split()
    if fields and fields[0] == b"Z":  # a zombie has exited; only its parent has not reaped it yet
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether ``pid`` runs and, when ``start_ticks`` is given, is the same process that was recorded."""
    if pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        ticks = process_start_ticks(pid)
        return ticks is not None and (start_ticks is None or ticks == start_ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(project) -> Path:
    return Path(project.state_dir) / LOCK_NAME


def read_lock(project) -> LockInfo | None:
    """The lock as written, alive or not (None when there is none or it cannot be read)."""
    try:
        data = json.loads(lock_path(project).read_text(encoding="utf-8"))
        return LockInfo(int(data["pid"]), data.get("start_ticks"), str(data["token"]), float(data["started"]),
                        bool(data.get("detached")), list(data.get("command") or []))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_lock(project) -> LockInfo | None:
    """The lock of a training that runs now, or None (no lock, or a stale one)."""
    info = read_lock(project)
    if info is not None and process_alive(info.pid, info.start_ticks):
        return info
    return None


@contextlib.contextmanager
def _guard(project):
    """Serialises "is the lock stale? clear it, create ours" between processes starting at once."""
    path = Path(project.state_dir) / ".train.lock.guard"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def running_error(project, info: LockInfo) -> JobRunning:
    how = "in the background" if info.detached else "in another terminal"
    root = str(project.root)
    return JobRunning(f"A training of this project is already running {how} (pid {info.pid})",
                      Fix("watch it with {} or stop it with {}", RunAction("job.status", root),
                          RunAction("job.stop", root)), pid=info.pid)


def acquire(project, *, pid: int | None = None, detached: bool = False, command: list[str] | None = None) -> LockInfo:
    """Create the lock for ``pid`` (this process by default); a live lock is refused in one sentence,
    a stale one is removed first."""
    pid = pid or os.getpid()
    info = LockInfo(pid, process_start_ticks(pid), secrets.token_hex(8), time.time(), detached, list(command or []))
    path = lock_path(project)
    with _guard(project):
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                held = read_lock(project)
                if held is not None and process_alive(held.pid, held.start_ticks):
                    raise running_error(project, held) from None
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # stale (its process is gone) or unreadable (a crash while creating it)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(info.to_json())
            return info
    raise UserError(f"Cannot create {path}", Fix("check that the project folder is writable"))


def hand_over(project, info: LockInfo, pid: int) -> LockInfo:
    """Point the lock at ``pid`` (the detached child that runs the training), keeping its token."""
    new = LockInfo(pid, process_start_ticks(pid), info.token, info.started, info.detached, info.command)
    atomic_write_text(lock_path(project), new.to_json())
    return new


def adopt(project, token: str) -> LockInfo:
    """The detached child takes over the lock its starter created for it (matching ``token``)."""
    held = read_lock(project)
    if held is None or held.token != token:
        raise UserError(f"The training lock {lock_path(project)} was not created for this job",
                        Fix("start the training again with {}", RunAction("train.start", str(project.root))))
    return hand_over(project, held, os.getpid())


def release(project, token: str) -> None:
    """Remove the lock if it is still ours (a stale-lock clean-up may have replaced it)."""
    with _guard(project):
        held = read_lock(project)
        if held is not None and held.token == token:
            with contextlib.suppress(FileNotFoundError):
                lock_path(project).unlink()


def clear_stale(project) -> bool:
    """Remove a lock whose process is gone; True when one was removed."""
    with _guard(project):
        held = read_lock(project)
        path = lock_path(project)
        if not path.exists() or (held is not None and process_alive(held.pid, held.start_ticks)):
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren …), from /proc; empty where /proc is missing."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            data = (entry / "stat").read_bytes()
            ppid = int(data[data.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
