"""Shared bits of the dataset review commands (check, dedupe, restore, crop)."""

from __future__ import annotations

from pathlib import Path


def rel_to(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)
