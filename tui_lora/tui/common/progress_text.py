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
