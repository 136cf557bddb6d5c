"""Sizes and times for people, the same in every command and screen."""

from __future__ import annotations


def file_size(n: float | None) -> str:
    """``705 B``, ``512 KB``, ``3.4 MB``, ``1.20 GB``."""
    n = n or 0
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n:.0f} B"


def duration(seconds: float | None) -> str:
    """``59 s``, ``1 min 01 s``, ``1 h 01 min``; ``–`` while unknown (None, negative or NaN)."""
    if seconds is None or not seconds >= 0:
        return "–"
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def clock(seconds: float | None) -> str:
    """``0:42`` / ``1:02:03``; ``--:--`` while unknown (an ETA before the first file)."""
    if seconds is None or seconds < 0:
        return "--:--"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
