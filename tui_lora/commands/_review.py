"""Shared bits of the dataset review commands (check, dedupe, restore, crop)."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def progress_line(args: argparse.Namespace, label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback that redraws one line on a terminal's stderr.

    Silent with --json or when stderr is not a terminal (logs and pipes get no ``\\r`` noise).
    """
    show = not getattr(args, "json", False) and sys.stderr.isatty()
    state = {"shown": False}
    lock = threading.Lock()

    def cb(done: int, total: int) -> None:
        if not show or total <= 0:
            return
        with lock:
            sys.stderr.write(f"\r{label} {done}/{total}")
            sys.stderr.flush()
            state["shown"] = True

    try:
        yield cb
    finally:
        if state["shown"]:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def rel_to(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)
