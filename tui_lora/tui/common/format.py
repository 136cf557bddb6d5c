"""Small text formatters shared by the screens (paths, numbers); sizes and durations are core/humanize.py's."""

from __future__ import annotations

import os
from pathlib import Path


def short_path(path: str | os.PathLike[str]) -> str:
    """``/home/me/loras/x`` → ``~/loras/x``: shorter on an 80-column screen."""
    p = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/") and (p == home or p.startswith(home.rstrip("/") + "/")):
        return "~" + p[len(home.rstrip("/")):]
    return p


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` columns, keeping its end (the interesting part of a path)."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def resolve_user_path(text: str, base: Path | None = None) -> Path:
    """What a user typed as a folder: ``~`` expanded, relative to ``base`` (the current folder)."""
    p = Path(text.strip()).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return Path(os.path.normpath(p))

