"""Talking to the Hugging Face hub without spam or long stalls.

huggingface_hub retries a failed connection five times with back-off (about 25 s) and logs a
warning per try. When the hub's host cannot even be reached (no network, DNS failure, a
firewalled server) we find out in a couple of seconds, go straight to the local cache, and let
the caller say one sentence.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

_REACHABLE: dict[str, bool] = {}


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when a TCP connection to the hub's host opens within ``timeout`` (cached per process)."""
    if hub_offline():
        return False
    url = urlsplit(hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme != "http" else 80)
    key = f"{host}:{port}"
    if key not in _REACHABLE:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                _REACHABLE[key] = True
        except OSError:
            _REACHABLE[key] = False
    return _REACHABLE[key]


@contextlib.contextmanager
def quiet_hub() -> Iterator[None]:
    """Silence huggingface_hub's per-retry warnings; our callers report failures themselves."""
    log = logging.getLogger("huggingface_hub")
    old = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(old)


def local_only() -> bool:
    """Whether downloads should use only the local cache (offline, or the hub is unreachable)."""
    return not hub_reachable()
