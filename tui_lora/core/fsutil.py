"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", *, permissions: int | None = None,
                **kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so the
    previous version survives a crash, a full disk or a Ctrl-C. The temporary file is created
    exclusively under a random name (never a predictable one that a planted link could redirect).
    The new file keeps ``path``'s permission bits (a new file gets what ``open`` would give it,
    or ``permissions``), not mkstemp's 0600.
    """
    if "w" not in mode:
        raise ValueError("atomic_open is for writing")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if permissions is None:
        permissions = existing_permissions(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX; Windows files have no such bits to keep
            os.fchmod(fd, permissions & 0o777)
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def existing_permissions(path: Path) -> int:
    """``path``'s permission bits, or what a plain ``open`` makes for a new file (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        current = os.umask(0)
        os.umask(current)
        return 0o666 & ~current


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, permissions: int | None = None) -> None:
    with atomic_open(path, "wb", permissions=permissions) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable."""
    # Makes the rename itself durable; not supported everywhere, so best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_append(path: str | os.PathLike[str], mode: str = "a", **kwargs) -> IO:
    """Open a log of the project (events.jsonl, train.log, caption-ops.jsonl) to append to, without
    following a symbolic link: a project from someone else could link its log to a file of yours."""
    import errno

    from tui_lora.core.errors import Fix, UserError

    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"{path} is a symbolic link, so tui-lora will not write its log through it",
                            Fix("delete the link (a new log is made in its place)")) from None
        raise
    return os.fdopen(fd, mode, **kwargs)
