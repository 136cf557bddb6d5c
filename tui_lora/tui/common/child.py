"""A `tui-lora` command run in a child process, for wizard work that needs torch (the wizard process
never imports it): the Compare step's renderer and the BLIP captioner. No textual here.

The child runs with ``--json --progress-json``: JSON lines on stderr (progress, log, warning) and
its result (or ``{"error": …}``) as one JSON object on stdout. :meth:`Child.cancel` sends SIGTERM,
which each command turns into its own clean stop; a child that ignores it is killed after a grace
period.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_lora.core.childenv import child_env
from tui_lora.core.errors import Notice, UserError

KILL_AFTER_S = 20.0  # SIGTERM first; a child still alive after this is killed
CANCELLED_EXIT = 130


def command(name: str, root: Path, args: list[str]) -> list[str]:
    """``python -m tui_lora NAME ROOT ARGS --json --progress-json`` with this interpreter."""
    return [sys.executable, "-m", "tui_lora", name, str(root), *args, "--json", "--progress-json"]


@dataclass(frozen=True)
class ChildEvent:
    kind: str  # "progress", "log" or "warning"
    done: int = 0
    total: int = 0
    what: str = ""  # progress: the item being worked on; log/warning: the message


def parse_event(line: str) -> ChildEvent | None:
    """One stderr line as an event; library chatter (not JSON) is None."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    kind = data.get("event")
    if kind == "progress":
        return ChildEvent("progress", int(data.get("done", 0)), int(data.get("total", 0)), str(data.get("what", "")))
    if kind in ("log", "warning"):
        return ChildEvent(kind, what=str(data.get("message", "")))
    return None


def parse_result(stdout: str, returncode: int, stderr_tail: list[str], *, cancelled: str,
                 what: str) -> dict[str, Any]:
    """The child's result object, or a UserError with its sentence. A result that comes with exit
    130 is a clean stop that kept its work (it says so itself); a signal death without one raises
    ``cancelled`` (exit 130); any other failure names ``what`` stopped, with the last stderr line."""
    data: Any = None
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
            break
        except ValueError:
            continue
    if isinstance(data, dict) and "error" in data:
        # The problem and its fix as data (the command's JSON): the wizard names the fix in its own words.
        notice = Notice.from_dict({"message": data["error"], **data})
        raise UserError.from_notice(notice, exit_code=int(data.get("exit_code", returncode or 1)))
    if returncode in (0, CANCELLED_EXIT) and isinstance(data, dict):
        return data
    if returncode in (-signal.SIGTERM, -signal.SIGKILL, CANCELLED_EXIT):
        raise UserError(cancelled, exit_code=CANCELLED_EXIT)
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "no message")
    raise UserError(f"{what} stopped unexpectedly (exit code {returncode}: {last[:160]}).", exit_code=1)


class Child:
    """One running command; iterate :meth:`events`, then call :meth:`result`."""

    def __init__(self, cmd: list[str], *, name: str = "child") -> None:
        self.cmd = cmd
        self.name = name
        self.cancelled = threading.Event()
        self._stdout: list[str] = []
        self._tail: list[str] = []
        # Its own session: a terminal's Ctrl+C goes to the wizard, never straight to the child.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", errors="replace", env=child_env(),
                                     start_new_session=True)
        # stdout is drained on its own thread, so a large result can never block the child.
        self._reader = threading.Thread(target=self._read_stdout, name=f"{name}-stdout", daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self._stdout.append(self.proc.stdout.read())

    def events(self) -> Iterator[ChildEvent]:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            event = parse_event(line)
            if event is None:
                self._tail = (self._tail + [line])[-20:]
            else:
                yield event

    def result(self, *, cancelled: str, what: str) -> dict[str, Any]:
        code = self.proc.wait()
        self._reader.join()
        return parse_result("".join(self._stdout), code, self._tail, cancelled=cancelled, what=what)

    def cancel(self) -> None:
        """SIGTERM now, SIGKILL if the child has not gone after :data:`KILL_AFTER_S`."""
        if self.proc.poll() is not None or self.cancelled.is_set():
            return
        self.cancelled.set()
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return
        threading.Thread(target=self._kill_later, name=f"{self.name}-kill", daemon=True).start()

    def _kill_later(self) -> None:
        try:
            self.proc.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_child(cmd: list[str], on_event: Callable[[ChildEvent], None], *, cancelled: str, what: str,
              started: Callable[[Child], None] = lambda c: None, name: str = "child") -> dict[str, Any]:
    """Run a command to its end; ``started`` receives the child (to cancel it)."""
    child = Child(cmd, name=name)
    started(child)
    for event in child.events():
        on_event(event)
    return child.result(cancelled=cancelled, what=what)
