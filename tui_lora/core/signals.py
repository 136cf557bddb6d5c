"""Routing Ctrl-C and SIGTERM to a command's own handler, for the commands that stop cleanly
(training, tagging, comparing) instead of dying mid-write."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def route_signals(handler: Callable[[int, Any], None],
                  signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Route ``signals`` (SIGINT and SIGTERM) to ``handler`` while the block runs (main thread only:
    signal handlers can be set nowhere else, and elsewhere there is nothing to route)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
