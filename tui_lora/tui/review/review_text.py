"""The Review screen's words: the title line, an item's details (file facts, caption, problems
and what fixes them, its duplicate group or trash entry), and one-line outcomes of actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

from tui_lora.core.dataset.captions import read_caption
from tui_lora.core.safepath import printable
from tui_lora.core.dataset.checks import Severity
from tui_lora.core.humanize import duration
from tui_lora.core.humanize import file_size as human_size
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.fixes import say
from tui_lora.tui.review.review_model import ReviewData, advice, view_label

if TYPE_CHECKING:
    from tui_lora.core.dataset.crop import CropReport
    from tui_lora.core.dataset.fix import FixReport
    from tui_lora.core.dataset.trash import RestoreResult


def title(data: ReviewData | None, view: str, position: tuple[int, int]) -> Text:
    """``All files 3/120 · 120 images · 4 with problems · 2 duplicate groups · 5 in trash``."""
    t = Text(no_wrap=True, overflow="ellipsis")
    index, total = position
    t.append(f"{view_label(view)} {index}/{total}", style="bold")
    if data is None:
        t.append(" · reading the dataset…", style="dim")
        return t
    images = len(data.scan.images)
    t.append(f" · {plural(images, 'image')}")
    problems = len(data.scan.with_issues)
    if problems:
        t.append(f" · {problems} with problems", style="yellow")
    groups = len(data.groups())
    if data.dedupe is None:
        t.append(" · looking for duplicates…", style="dim")
    elif groups:
        t.append(f" · {plural(groups, 'duplicate group')}", style="yellow")
    if data.trash:
        t.append(f" · {len(data.trash)} in trash", style="dim")
    return t


def details(item: Item | None, data: ReviewData | None, caption_extension: str = ".txt") -> Text:
    """Everything about one item, for the side panel and the full-screen preview."""
    t = Text()
    if item is None:
        t.append("Nothing selected.", style="dim")
        return t
    t.append(item.name + "\n", style="bold")
    if item.entry is not None:
        return _trash_details(t, item)
    r = item.record
    if r is None:
        return t
    where = r.rel.rsplit("/", 1)[0] + "/" if "/" in r.rel else "dataset/"
    t.append(where + "\n", style="dim")
    facts = []
    if r.kind == "image" and r.readable:
        facts.append(f"{r.width}×{r.height}")
        if r.format:
            facts.append(r.format)
    facts.append(human_size(r.size_bytes))
    t.append(" · ".join(facts) + "\n")
    if item.member is not None and data is not None:
        _group_details(t, item, data)
    if r.kind == "image":
        t.append("\nCaption: ", style="bold")
        t.append_text(_caption(r))
        t.append("\n")
    if r.issues:
        t.append("\n")
        for issue in r.issues:
            style = "red" if issue.severity is Severity.ERROR else "yellow"
            t.append(("✗ " if issue.severity is Severity.ERROR else "! ") + issue.describe() + "\n", style=style)
            t.append("  → " + advice(issue.code) + "\n", style="dim")
    t.rstrip()
    return t


def _caption(r) -> Text:
    if r.caption is None:
        return Text("none", style="yellow")
    cf = read_caption(r.caption)
    if cf.error:
        return Text(cf.error, style="yellow")
    if cf.empty:
        return Text("empty", style="yellow")
    return Text(printable(cf.text.strip()))


def _group_details(t: Text, item: Item, data: ReviewData) -> None:
    groups = data.groups()
    m = item.member
    assert m is not None and item.group is not None
    g = groups[item.group] if item.group < len(groups) else None
    t.append(f"\nDuplicate group {item.group + 1} of {len(groups)}", style="bold")
    if g is not None:
        t.append(f" · {len(g.members)} images")
    t.append("\n")
    if item.keeper:
        t.append("★ suggested keeper: the most pixels, then the largest file\n", style="green")
    if m.exact:
        t.append("byte-for-byte copy of the keeper\n", style="yellow")
    elif m.is_reference:
        t.append("the image the others are copies of\n", style="dim")
    elif g is not None:
        ref = g.reference.name
        t.append(f"{m.distance:.0f} of 144 bits from {ref} (0 = identical)\n", style="dim")


def _trash_details(t: Text, item: Item) -> Text:
    e = item.entry
    assert e is not None
    t.append(f"was dataset/{e.original}\n", style="dim")
    age = time.time() - e.time
    when = "just now" if age < 60 else f"{duration(age)} ago"  # (minutes, not seconds: a stable screen)
    t.append(f"trashed {when} · {e.reason}\n")
    extra = [f.original.rsplit("/", 1)[-1] for f in e.files[1:]]
    if extra:
        t.append("with " + ", ".join(extra) + "\n", style="dim")
    replaced = [f.replacement for f in e.files if f.replacement]
    if replaced:
        t.append("replaced by a fixed file; restoring puts the original back\n", style="dim")
    t.append("\nr restores it (R: everything)", style="bold")
    return t


# ----- outcomes -----------------------------------------------------------------------------------
def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def trashed_line(n: int, why: str = "") -> str:
    return f"Moved {plural(n, 'file')} to the trash" + (f" ({why})" if why else "") + "; u undoes it."


def _skipped(report: "CropReport | FixReport", n: int) -> str:
    reasons = sorted({r.message for r in report.results if r.action == "skipped"})
    return f"skipped {n} ({'; '.join(reasons)})"


def crop_line(report: "CropReport") -> str:
    """``Cropped 3 files to 1:1 at 512×512 (focus); the originals are in the trash; u undoes it.``"""
    cropped, unchanged, skipped = report.count("cropped"), report.count("unchanged"), report.count("skipped")
    width, height = report.size
    parts = []
    if cropped:
        parts.append(f"Cropped {plural(cropped, 'file')} to {report.aspect} at {width}×{height} ({report.mode})")
    if unchanged:
        parts.append(f"{plural(unchanged, 'file')} already {width}×{height}")
    if skipped:
        parts.append(_skipped(report, skipped))
    upscaled = sum(1 for r in report.results if r.upscaled)
    if upscaled:
        parts.append(f"{plural(upscaled, 'file')} had to be enlarged (blurrier; a bigger source is better)")
    line = "; ".join(parts) if parts else "Nothing to crop."
    return line[:1].upper() + line[1:] + ("; the originals are in the trash, u undoes it." if cropped else ".")


def fix_line(report: "FixReport") -> str:
    fixed = report.count("fixed") + report.count("converted")
    trashed, skipped = report.count("trashed"), report.count("skipped")
    parts = []
    if fixed:
        parts.append(f"fixed {plural(fixed, 'file')}")
    if trashed:
        parts.append(f"moved {plural(trashed, 'unreadable file')} to the trash")
    if skipped:
        parts.append(_skipped(report, skipped))
    if not parts:
        return "Nothing to fix there: those problems need a person (see the panel for what to do)."
    line = ", ".join(parts)
    after = " (the originals are in the trash); u undoes it." if fixed else "; u undoes it."
    return line[0].upper() + line[1:] + after


def restore_line(results: "list[RestoreResult]") -> str:
    n = sum(1 for r in results if r.restored)
    text = f"Restored {n} {'entry' if n == 1 else 'entries'} from the trash." if n else "Nothing was restored."
    renamed = [r for r in results if r.renamed]
    if renamed:
        text += f" {len(renamed)} came back under a new name: another file had taken the old one."
    missing = [m for r in results for m in r.missing]
    if missing:
        text += f" {len(missing)} file(s) were no longer in the trash folder."
    refused = [say(r.refusal, "review") for r in results if r.refusal is not None]
    if refused:
        text += " " + refused[0] + (f" ({len(refused) - 1} more like it.)" if len(refused) > 1 else "")
    return text
