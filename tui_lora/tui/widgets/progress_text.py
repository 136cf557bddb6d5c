"""One-row progress bars drawn as text: ``━━━━━━╺━━━━━  32%``.

Textual's ProgressBar relayouts the screen on every percentage change (and animates while its
total is unknown): too many bytes over a slow SSH link. A Static updated with ``layout=False``
and one of these costs one line.
"""

from __future__ import annotations

from rich.text import Text


def progress_bar(step: int, total: int, width: int) -> Text:
    """A bar ``width`` cells wide (percentage included) for ``step`` of ``total``."""
    share = min(1.0, step / total) if total else 0.0
    cells = max(1, width - 6)
    done = int(share * cells)
    t = Text(no_wrap=True)
    t.append("━" * done, style="bold green" if share >= 1 else "bold blue")
    t.append("━" * (cells - done), style="grey23")
    t.append(f" {share:>4.0%}")
    return t


def bar_with_text(step: int, total: int, width: int, text: str, *, bar_width: int = 20) -> Text:
    """``━━━━╺━━━  40% text``: a short bar then a description, cut to ``width``."""
    t = progress_bar(step, total, bar_width)
    t.append("  " + text)
    t.truncate(max(1, width), overflow="ellipsis")
    return t


def clock(seconds: float | None) -> str:
    """``0:42`` / ``1:02:03``; ``--:--`` while unknown (an ETA before the first file)."""
    if seconds is None or seconds < 0:
        return "--:--"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def size(n: float) -> str:
    """Bytes for people: ``512 KB``, ``3.4 MB``, ``1.20 GB``."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} KB"
