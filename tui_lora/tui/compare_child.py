"""The wizard's Compare step runs `tui-lora compare … --json --progress-json` in a child process, so
torch and the model never load into the TUI process. No textual here.

The child writes JSON lines on stderr (progress, log, warning) and its result (or ``{"error": …}``)
as one JSON object on stdout. :meth:`CompareChild.cancel` sends SIGTERM, which the command maps to
its clean cancel (exit 130, nothing written); a child that ignores it is killed after a grace period.
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
from tui_lora.core.errors import UserError

KILL_AFTER_S = 20.0  # SIGTERM first; a child still alive after this is killed


def compare_command(root: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "tui_lora", "compare", str(root), *args, "--json", "--progress-json"]


@dataclass(frozen=True)
class ChildEvent:
    kind: str  # "progress", "log" or "warning"
    done: int = 0
    total: int = 0
    what: str = ""  # progress: the cell being rendered; log/warning: the message


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


def parse_result(stdout: str, returncode: int, stderr_tail: list[str]) -> dict[str, Any]:
    """The child's result, or a UserError with its sentence (exit 130 keeps its code: cancelled)."""
    data: Any = None
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
            break
        except ValueError:
            continue
    if isinstance(data, dict) and "error" in data:
        raise UserError(str(data["error"]), exit_code=int(data.get("exit_code", returncode or 1)))
    if returncode == 0 and isinstance(data, dict):
        return data
    if returncode in (-signal.SIGTERM, -signal.SIGKILL, 130):
        raise UserError("Comparison cancelled; no grid was written.", exit_code=130)
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "no message")
    raise UserError(f"The comparison stopped unexpectedly (exit code {returncode}: {last[:160]}).", exit_code=1)


class CompareChild:
    """One running `tui-lora compare`; iterate :meth:`events`, then call :meth:`result`."""

    def __init__(self, cmd: list[str]) -> None:
        self.cmd = cmd
        self.cancelled = threading.Event()
        self._stdout: list[str] = []
        self._tail: list[str] = []
        # Its own session: a terminal's Ctrl+C goes to the wizard, never straight to the child.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", errors="replace", env=child_env(),
                                     start_new_session=True)
        # stdout is drained on its own thread, so a large result can never block the child.
        self._reader = threading.Thread(target=self._read_stdout, name="compare-stdout", daemon=True)
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

    def result(self) -> dict[str, Any]:
        code = self.proc.wait()
        self._reader.join()
        return parse_result("".join(self._stdout), code, self._tail)

    def cancel(self) -> None:
        """SIGTERM now, SIGKILL if the child has not gone after :data:`KILL_AFTER_S`."""
        if self.proc.poll() is not None or self.cancelled.is_set():
            return
        self.cancelled.set()
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return
        threading.Thread(target=self._kill_later, name="compare-kill", daemon=True).start()

    def _kill_later(self) -> None:
        try:
            self.proc.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_compare_child(root: Path, args: list[str], on_event: Callable[[ChildEvent], None],
                      started: Callable[[CompareChild], None] = lambda c: None) -> dict[str, Any]:
    """Run the comparison to its end; ``started`` receives the child (to cancel it)."""
    child = CompareChild(compare_command(root, args))
    started(child)
    for event in child.events():
        on_event(event)
    return child.result()


def run_pick(root: Path, epoch: int, weight: float, timeout: float = 300) -> dict[str, Any]:
    """`tui-lora compare --pick` (safetensors' torch loader lives there, not in the wizard)."""
    cmd = [sys.executable, "-m", "tui_lora", "compare", str(root), "--pick", str(epoch), "--weight", f"{weight:g}",
           "--json"]
    try:
        r = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                           errors="replace", env=child_env(), timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise UserError(f"Keeping epoch {epoch} took over {timeout:.0f} s and was stopped; try again.") from None
    return parse_result(r.stdout, r.returncode, r.stderr.splitlines()[-20:])
