"""Talking to the Hugging Face hub without spam or long stalls, and in the same words everywhere.

huggingface_hub retries a failed connection five times with back-off (about 25 s) and logs a
warning per try. When the hub's host cannot even be reached (no network, DNS failure, a
firewalled server) we find out in a couple of seconds, go straight to the local cache, and let
the caller say one sentence.

Every model setting (base model, VAE, tagger, captioner) takes a local path or a repo id:
:func:`is_repo_id` decides which, and :func:`download_failure` words what went wrong fetching one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tui_lora.core.errors import Fix, ModelNotCached, Step, TryAgain, UserError, verbatim

_REACHABLE: dict[str, bool] = {}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# A name ending like a model file is a file someone meant, even when it has one slash.
MODEL_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".onnx")


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
        import socket  # here, not at the top: `tui-lora --help` and the wizard's start never need it

        try:
            with socket.create_connection((host, port), timeout=timeout):
                _REACHABLE[key] = True
        except OSError:
            _REACHABLE[key] = False
    return _REACHABLE[key]


@contextlib.contextmanager
def quiet_hub() -> Iterator[None]:
    """Silence huggingface_hub's per-retry warnings; our callers report failures themselves."""
    import logging

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


def looks_like_path(ref: str) -> bool:
    """Written as a path: starts with / . ~ \\ or a drive letter, has more than one slash, or ends like a model file."""
    return (ref.startswith(("/", ".", "~", "\\")) or (len(ref) > 1 and ref[1] == ":") or ref.count("/") > 1
            or ref.lower().endswith(MODEL_FILE_SUFFIXES))


def is_repo_id(ref: str) -> bool:
    """Whether a model setting names a Hugging Face repo (``owner/name``) rather than a local file or
    folder: nothing by that name exists here, it is not written as a path, and it has the repo form."""
    ref = ref.strip()
    if not ref or looks_like_path(ref) or Path(ref).expanduser().exists():
        return False
    return _REPO_ID.match(ref) is not None


def _or(words: str, local_fix: Fix, *steps: Step) -> Fix:
    """``words`` (naming ``steps``), then ", or " and ``local_fix`` with its own steps."""
    return Fix(f"{words}, or {local_fix.say}", *steps, *local_fix.steps)


def not_cached(repo: str, *, local_fix: Fix | str) -> ModelNotCached:
    """The hub cannot be reached and ``repo`` is not in the local cache."""
    local_fix = Fix(local_fix) if isinstance(local_fix, str) else local_fix
    return ModelNotCached(f"Cannot download {repo}: the Hugging Face hub cannot be reached and {repo} is not "
                          "downloaded yet", _or("connect to the internet once", local_fix))


def download_failure(exc: BaseException, repo: str, *, local_fix: Fix | str,
                     example: str = "") -> UserError | None:
    """The error for a failed download of ``repo`` (gated, missing, not cached while the hub is
    unreachable, a network or disk error), its fix ending in ``local_fix`` (how to use a local copy
    instead, naming its own steps); None when ``exc`` is not a download failure (the caller lets it
    propagate)."""
    from huggingface_hub.errors import (
        GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
    )

    local_fix = Fix(local_fix) if isinstance(local_fix, str) else local_fix
    if isinstance(exc, LocalEntryNotFoundError):  # offline and not cached
        return not_cached(repo, local_fix=local_fix)
    if isinstance(exc, GatedRepoError):
        return UserError(f"{repo} is gated", _or("accept its terms on huggingface.co and log in with `hf auth login` "
                                                 "(or set HF_TOKEN)", local_fix))
    if isinstance(exc, RepositoryNotFoundError):
        e_g = f" (e.g. {verbatim(example)})" if example else ""
        return UserError(f"There is no Hugging Face repo {repo} (or it is private)",
                         _or(f"check the owner/name{e_g}, log in with `hf auth login` if it is yours", local_fix))
    if isinstance(exc, RevisionNotFoundError):
        return UserError(f"{repo} has no main revision", _or("give a repo id that has one", local_fix))
    if isinstance(exc, OSError):
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return UserError(f"Cannot download {repo} ({detail})",
                         _or("check the connection and free disk space, then {} (finished downloads are kept)",
                             local_fix, TryAgain()))
    return None
