"""One training per project: ``state/train.lock``, created atomically, naming the process that trains.

The lock holds the pid *and* the process's start time (``/proc/<pid>/stat``), so a pid the kernel
later reuses for another program is not mistaken for the trainer. A lock whose process is gone
(killed, out of memory, machine restarted) is stale and is cleared by the next start.

A detached job is started by one process and run by another: the starter creates the lock with
a random ``token`` and passes the token to the child (``TUI_LORA_JOB_TOKEN``), which *adopts* the
lock by writing its own pid into it. Whoever holds the token releases the lock at exit.

The lock file is project data, and a project folder may be copied or crafted, so what it says is
not trusted: a lock counts as live only when /proc *proves* that its pid is our trainer — the same
start time, and either the lock's token in the process's environment (a detached job) or the lock
file held open by the process (the foreground trainer, a starter before the hand-over). Anything
else is stale, so ``status``, ``stop`` and ``stop --force`` never signal a process on a guess.
Where /proc is missing nothing can be proven: a lock whose pid exists blocks a second start, but
``stop`` refuses to signal it (:func:`verifiable`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
import threading
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


def verifiable() -> bool:
    """Whether this system has the /proc that proves a lock's process is our trainer."""
    return Path("/proc/self/stat").exists()


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
    """The lock as written, alive or not (None when there is none, it is not a regular file, or it
    cannot be read)."""
    path = lock_path(project)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        ticks = data.get("start_ticks")
        if ticks is not None and (isinstance(ticks, bool) or not isinstance(ticks, int)):
            return None
        return LockInfo(int(data["pid"]), ticks, str(data["token"]), float(data["started"]),
                        bool(data.get("detached")), [str(c) for c in data.get("command") or []])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


_TOKEN = re.compile(r"[0-9a-f]{16,64}")
_held: dict[str, int] = {}  # lock path → an open descriptor this process holds as its proof
_held_lock = threading.Lock()


def proven(project, info: LockInfo) -> bool:
    """Whether /proc proves that ``info.pid`` is the process that took this lock: same start time,
    and the token in its environment or the lock file open in it. Never true on a guess."""
    if info.pid <= 0 or info.start_ticks is None or not verifiable():
        return False
    if process_start_ticks(info.pid) != info.start_ticks:
        return False
    return _has_token(info.pid, info.token) or _holds_file(info.pid, lock_path(project))


def _has_token(pid: int, token: str) -> bool:
    if not _TOKEN.fullmatch(token):
        return False
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:  # another user's process (or gone): not ours to prove
        return False
    return f"{TOKEN_ENV}={token}".encode() in env.split(b"\0")


def _holds_file(pid: int, path: Path) -> bool:
    try:
        st = os.lstat(path)
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            other = os.stat(f"/proc/{pid}/fd/{fd}")
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def _hold(project) -> None:
    """Keep the lock file open in this process: the proof that we are the lock's process."""
    key = str(lock_path(project))
    fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW)
    with _held_lock:
        old = _held.pop(key, None)
        _held[key] = fd
    if old is not None:
        os.close(old)


def _unhold(project) -> None:
    with _held_lock:
        fd = _held.pop(str(lock_path(project)), None)
    if fd is not None:
        os.close(fd)


def _alive_unverified(info: LockInfo) -> bool:
    """Without /proc: the pid exists (enough to refuse a second start, never to signal)."""
    return process_alive(info.pid) if info.pid > 0 else False


def live_lock(project) -> LockInfo | None:
    """The lock of a training that runs now, or None (no lock, or a stale one: its process is gone
    or cannot be proven to be ours)."""
    info = read_lock(project)
    if info is None:
        return None
    if proven(project, info) or (not verifiable() and _alive_unverified(info)):
        return info
    return None


_guards: dict[str, list] = {}  # guard path → [thread lock, descriptor, depth]
_guards_lock = threading.Lock()


@contextlib.contextmanager
def guard(project):
    """Serialises "is the lock stale? clear it, create ours" (and a whole detached start, up to the
    hand-over) between processes starting at once; re-entrant within one thread."""
    path = Path(project.state_dir) / ".train.lock.guard"
    with _guards_lock:
        entry = _guards.setdefault(str(path), [threading.RLock(), None, 0])
    with entry[0]:
        if entry[2] == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            entry[1] = fd
        entry[2] += 1
        try:
            yield
        finally:
            entry[2] -= 1
            if entry[2] == 0:
                os.close(entry[1])
                entry[1] = None


_guard = guard


def running_error(project, info: LockInfo) -> JobRunning:
    how = "in the background" if info.detached else "in another terminal"
    root = str(project.root)
    return JobRunning(f"A training of this project is already running {how} (pid {info.pid})",
                      Fix("watch it with {} or stop it with {}", RunAction("job.status", root),
                          RunAction("job.stop", root)), pid=info.pid)


def new_token() -> str:
    """A fresh lock token; the process that will hold the lock gets it as ``TUI_LORA_JOB_TOKEN``."""
    return secrets.token_hex(8)


def acquire(project, *, pid: int | None = None, detached: bool = False, command: list[str] | None = None,
            token: str | None = None) -> LockInfo:
    """Create the lock for ``pid`` (this process by default, which then holds the file open as its
    proof); another process must have ``token`` in its environment. A live lock is refused in one
    sentence, a stale one is removed first."""
    mine = pid is None or pid == os.getpid()
    pid = pid or os.getpid()
    info = LockInfo(pid, process_start_ticks(pid), token or new_token(), time.time(), detached,
                    list(command or []))
    path = lock_path(project)
    with _guard(project):
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                held = read_lock(project)
                if held is not None and (proven(project, held) or (not verifiable() and _alive_unverified(held))):
                    raise running_error(project, held) from None
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # stale: gone, not provably ours, or unreadable (a crash while creating it)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(info.to_json())
            if mine:
                _hold(project)
            return info
    raise UserError(f"Cannot create {path}", Fix("check that the project folder is writable"))


def hand_over(project, info: LockInfo, pid: int) -> LockInfo:
    """Point the lock at ``pid`` (the detached child that runs the training), keeping its token."""
    new = LockInfo(pid, process_start_ticks(pid), info.token, info.started, info.detached, info.command)
    _unhold(project)
    atomic_write_text(lock_path(project), new.to_json())
    if pid == os.getpid():
        _hold(project)
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
            _unhold(project)


def clear_stale(project) -> bool:
    """Remove a lock whose process is gone or cannot be proven to be ours; True when one was removed."""
    with _guard(project):
        path = lock_path(project)
        if not os.path.lexists(path) or live_lock(project) is not None:
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
