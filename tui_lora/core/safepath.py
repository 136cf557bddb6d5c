"""Paths read from files inside a project (trash manifests, undo snapshots) are untrusted.

A project folder may come from someone else (a shared drive, a zip, a git clone), so a path it
names could point anywhere: ``../../.ssh/authorized_keys``, an absolute path, or a folder that is
a symlink to outside. :func:`inside` accepts only a relative path whose every component is a real
(non-link) file or folder below ``area``, so following it can never leave the area.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path, PurePosixPath


class Outside(ValueError):
    """A path from a project file that would leave its area; the message says why."""


def inside(area: Path, rel: object, *, what: str = "path") -> Path:
    """``area / rel`` after checking that ``rel`` stays inside ``area`` without following a link.

    Raises :class:`Outside` for a path that is not a string, is empty or absolute, holds ``..``,
    a backslash or a NUL, or passes through (or ends at) a symbolic link. A component that does
    not exist yet is fine (a folder the restore re-creates).
    """
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        raise Outside(f"its {what} {rel!r} is not a plain relative path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or any(part in ("..", ".") for part in pure.parts) or not pure.parts:
        raise Outside(f"its {what} {rel!r} leads outside {area.name}/")
    current = area
    for part in pure.parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break  # nothing below a missing component can be a link
        except OSError as exc:
            raise Outside(f"its {what} {rel!r} cannot be inspected ({exc.strerror})") from None
        if stat.S_ISLNK(st.st_mode):
            raise Outside(f"its {what} {rel!r} passes through the symbolic link {current.name}")
    return area / pure


def plain_name(name: object, *, what: str = "file name") -> str:
    """A single file name (no folder part, not ``.``/``..``); raises :class:`Outside` otherwise."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or "\x00" in name):
        raise Outside(f"its {what} {name!r} is not a plain file name")
    return name


def printable(text: object) -> str:
    """Text from outside (a site's tag or reason phrase, a caption), fit to print or store: control,
    format (bidi) and line-separator characters removed, so it cannot move the terminal's cursor,
    recolour it, reorder a line, or start a second caption line that kohya would not read."""
    return "".join(c for c in str(text) if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))


def shown(name: object) -> str:
    """A name from a project file, safe to print: quoted with escapes when it holds control characters."""
    text = str(name)
    return text if text.isprintable() else repr(text)


def is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def regular_file(path: Path) -> bool:
    """True for a regular file that is not a symbolic link."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def permission_bits(mode: object) -> int | None:
    """``mode`` limited to rwx bits (never setuid, setgid or sticky); None when not a number."""
    if isinstance(mode, bool) or not isinstance(mode, int):
        return None
    return mode & 0o777
