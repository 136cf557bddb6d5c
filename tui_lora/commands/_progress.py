"""The one progress display of the long commands (check, dedupe, crop, tag, fetch), on stderr so stdout
stays the result: a rich progress bar on a terminal; with ``log_every``, a plain line that often when
stderr is a file (a log of a long download), plus the last one; otherwise nothing.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class CliProgress:
    """``update(label, done, total, detail)`` from any thread, ``close()`` once at the end."""

    def __init__(self, *, enabled: bool = True, log_every: float | None = None, transient: bool = True) -> None:
        self.tty = sys.stderr.isatty()
        self.enabled = enabled and (self.tty or log_every is not None)
        self.log_every, self.transient = log_every, transient
        self._bar: Any = None  # rich.progress.Progress, started on the first update (rich loads only then)
        self._task: Any = None
        self._lock = threading.Lock()
        self._last_line: float | None = None  # when the last plain line went to the log
        self._logged = ""

    def update(self, label: str, done: int, total: int, detail: str = "") -> None:
        if not self.enabled or total <= 0:
            return
        with self._lock:
            if self.tty:
                self._draw(label, done, total, detail)
            else:
                self._log(f"{label}: {done}/{total}" + (f" · {detail}" if detail else ""), final=done >= total)

    def _draw(self, label: str, done: int, total: int, detail: str) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), console=Console(stderr=True),
                                 transient=self.transient)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total, detail=detail)
        self._bar.update(self._task, description=label, completed=done, total=total, detail=detail)

    def _log(self, text: str, *, final: bool) -> None:
        now = time.monotonic()
        due = self._last_line is None or now - self._last_line >= (self.log_every or 0)
        if text == self._logged or not (final or due):
            return
        self._last_line, self._logged = now, text
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        """End the display (a finished bar stays on screen unless ``transient``); a later update starts anew."""
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = self._task = None


@contextmanager
def progress_line(args: argparse.Namespace, label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback for one stage of work: a bar labelled ``label`` on a terminal,
    gone when the stage ends; silent with --json or when stderr is not a terminal."""
    display = CliProgress(enabled=not getattr(args, "json", False))
    try:
        yield lambda done, total: display.update(label, done, total)
    finally:
        display.close()
