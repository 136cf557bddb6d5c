"""What the Fetch screen says: the live count, progress lines and the outcome of a download."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui_lora.core.humanize import clock
from tui_lora.core.humanize import file_size as size
from tui_lora.tui.common.progress_text import bar_with_text
from tui_lora.tui.common.fixes import say


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def count_line(result: Any) -> str:
    """``1,234 posts match "hakurei_reimu" (rating general) on Safebooru; the first 8:``."""
    q = result.query
    if not result.first_page_size:
        return (f"Nothing matches {q.describe()} on {result.site}; check the spelling (booru tags use "
                "underscores) or loosen the filters.")
    n = result.first_page_size if result.total_count is None else result.total_count
    verb = "post matches" if n == 1 else "posts match"
    text = f"{'At least ' if result.total_count is None else ''}{n:,} {verb} {q.describe()} on {result.site}"
    if q.local_filters:
        text += f" (before the {', '.join(q.local_filters)} filter, applied here)"
    if result.preview:
        text += f"; the first {len(result.preview)}:" if len(result.preview) > 1 else "; the first:"
    else:
        text += "; none of the first page is a still image (videos, gifs and zips are skipped)."
    return text


def progress_line(kind: str, p: Any, width: int) -> Text:
    if kind == "list":
        return Text(f"Listing posts: {p.found}/{p.wanted} found (page {p.pages})…", no_wrap=True)
    # The core's ETA counts from the first byte; files that arrive in waves (all jobs waiting on a
    # slow server, then finishing together) make it read 0:00, so the elapsed time per file bounds it.
    paced = p.elapsed_s * (p.total - p.done) / p.done if p.done else None
    eta = max((e for e in (p.eta_s, paced) if e is not None), default=None)
    text = (f"{p.done}/{p.total} · {size(p.bytes)} · {size(p.bytes_per_s)}/s · ETA {clock(eta)}"
            + (f" · {p.failed} failed" if p.failed else ""))
    return bar_with_text(p.done, p.total, width, text)


def outcome_lines(coll: Any, report: Any, folder: str) -> tuple[list[str], bool]:
    """Sentences for a finished (or cancelled) fetch, and whether it went well."""
    if report is None:  # cancelled while listing
        return ["Cancelled while listing posts; nothing was downloaded."], False
    done, there = len(report.downloaded), len(report.existing)
    head = (f"Downloaded {_n(done, 'new image')} ({size(report.bytes)} in {report.seconds:.1f} s) "
            f"into {folder}/.")
    lines = [head]
    if report.cancelled:
        lines = [f"Cancelled after {_n(done, 'new image')} ({size(report.bytes)}) into {folder}/; "
                 "^d again finishes the rest (unfinished files are resumed, none is left half-written)."]
    extra = []
    if there:
        extra.append(f"{there} already there")
    if report.skipped:
        extra.append(f"{len(report.skipped)} skipped ({report.skipped[0].reason}"
                     + (" …)" if len(report.skipped) > 1 else ")"))
    if coll.skipped:
        extra.append("passed over " + ", ".join(f"{n} {reason}" for reason, n in sorted(coll.skipped.items())))
    if extra:
        lines.append("; ".join(extra).capitalize() + ".")
    lines += [say(w, "fetch") for w in coll.warnings]
    ok = not report.failed and not report.cancelled
    if report.failed:
        first = report.failed[0]
        lines.append(f"{len(report.failed)} failed (#{first.post_id}: {first.reason}); ^d again retries them.")
    elif ok and (done or there):
        lines.append("Next: 3 Review the images, then 4 Tags (captions already hold the site's tags).")
    if not coll.posts:
        lines = ["Nothing to download: no still image matched; loosen the filters."]
        ok = False
    return lines, ok
