"""The caption work behind the Tags screen, callable from worker threads (no textual here):
reading the dataset's tag summary, keeping the WD14 tagger loaded between runs, running BLIP in a
child process, and saying what an operation did in one sentence.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset import tagops
from tui_lora.tui.common import child


@dataclass
class TagSummary:
    """Everything the Tags screen shows about the captions, read in one go."""

    table: Any  # tagops.FrequencyTable
    tokens: Any  # tokens.TokenReport
    history: list = field(default_factory=list)  # undo.HistoryEntry, newest first
    junk_here: list[tuple[str, int]] = field(default_factory=list)  # junk-list tags found, with image counts

    @property
    def last_undoable(self):
        return next((h for h in self.history if h.undoable), None)


def load_summary(project) -> TagSummary:
    entries = tagops.load_captions(project)
    table = tagops.frequency_table(project, entries=entries)
    tokens = tagops.token_report(project, entries)
    summary = TagSummary(table, tokens, tagops.history(project))
    if project.settings["tags"]["junk_tags"] and table.rows:
        summary.junk_here = removal_counts(tagops.remove_junk(project, dry_run=True))
    return summary


def removal_counts(result) -> list[tuple[str, int]]:
    """(tag, images it would leave) for a dry run, most frequent first."""
    counts: Counter[str] = Counter()
    for change in result.changes:
        counts.update(set(change.removed))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold()))


class TaggerCache:
    """The WD14 model stays loaded between runs (loading a large one takes seconds); a new model
    folder or repo loads anew, new thresholds only change how its output is read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: str | None = None
        self._tagger = None

    def get(self, model: str, threshold: float, character_threshold: float, device: str = "auto"):
        from tui_lora.core.tagging.pipeline import load_tagger

        with self._lock:
            if self._tagger is None or model != self._model:
                self._tagger = load_tagger("wd14", model, threshold=threshold,
                                           character_threshold=character_threshold, device=device)
                self._model = model
            else:
                self._tagger.threshold = threshold
                self._tagger.character_threshold = character_threshold
            return self._tagger


def run_blip_child(root: Path, mode: str, on_event: Callable[[child.ChildEvent], None],
                   started: Callable[[child.Child], None]) -> dict[str, Any]:
    """`tui-lora tag --backend blip` in a child process (BLIP needs torch, which the wizard never
    imports); its result is :meth:`TagRunResult.to_dict`'s, ``cancelled`` set when esc stopped it."""
    cmd = child.command("tag", root, ["--backend", "blip", "--mode", mode])
    return child.run_child(cmd, on_event, cancelled="Captioning stopped before any image was written.",
                       what="The BLIP captioner", started=started, name="blip")


class Rate:
    """Images per second and the time left, from progress(done, total) calls. Measured from the
    first call on, so the time the model took to load does not drag the rate down."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._first: tuple[float, int] | None = None

    def eta(self, done: int, total: int) -> tuple[float, float | None]:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, done)
        t0, d0 = self._first
        if done > d0 and now > t0:
            rate = (done - d0) / (now - t0)
        else:
            elapsed = now - self.start
            rate = done / elapsed if elapsed > 0 and done else 0.0
        return rate, ((total - done) / rate if rate else None)


# ----- sentences ----------------------------------------------------------------------------------
def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _tags(tags: list[str], limit: int = 3) -> str:
    shown = ", ".join(tags[:limit])
    return shown + (f" and {len(tags) - limit} more" if len(tags) > limit else "")


def describe_op(result) -> str:
    """``Removed red bow, smile from 5 captions (u undoes it).``"""
    d, n = result.details, result.files_changed
    where = _n(n, "caption")
    if n == 0:
        return {"trigger": "Every caption already starts with the trigger word; nothing changed.",
                "edit": "The caption is unchanged."}.get(result.op, "No caption has those tags; nothing changed.")
    text = {
        "remove": f"Removed {_tags(d.get('tags', []))} from {where}",
        "replace": f"Merged {_tags(d.get('sources', []))} into {d.get('target')!r} in {where}",
        "trigger": f"{d.get('word')!r} is now first in {where}",
        "junk": f"Removed junk tags from {where}",
        "remove-pattern": f"Removed the tags matching {_tags(d.get('patterns', []))} from {where}",
        "dedupe": f"Cleaned {where} (repeated tags, stray bytes)",
        "edit": f"Saved the caption of {d.get('image', 'the image')}",
    }.get(result.op, f"{result.op}: changed {where}")
    if result.settings:
        text += "; set " + ", ".join(f"{k} = {v}" for k, v in result.settings.items())
    skipped = f"; {len(result.skipped)} unreadable captions left alone" if result.skipped else ""
    return f"{text}{skipped} (u undoes it)."


def describe_undo(result) -> str:
    text = f"Undid {result.op} (#{result.id}): restored {_n(len(result.restored), 'file')}"
    if result.removed:
        text += f", removed {len(result.removed)} it had created"
    if result.settings_restored:
        text += " (project.toml included)"
    return text + "."


def describe_tag_run(result: dict[str, Any]) -> str:
    """One sentence for a tagging run, from ``TagRunResult.to_dict()`` (in-process WD14 and the
    BLIP child's JSON have the same shape)."""
    if result["total"] == 0:
        return ("Nothing to tag: every image already has a caption (mode missing)." if result["mode"] == "missing"
                else "Nothing to tag.")
    verb = "Stopped after tagging" if result["cancelled"] else "Tagged"
    text = (f"{verb} {result['tagged']} of {result['total']} images on {result['device']}"
            + (f"; {result['unchanged']} came out the same" if result["unchanged"] else ""))
    if result["unreadable"]:
        first = Path(result["unreadable"][0]["path"]).name
        text += f"; {len(result['unreadable'])} images could not be read ({first})"
    text += " (u undoes it)." if result["tagged"] else "."
    return f"{text} {result['token_warning']}" if result.get("token_warning") else text


def describe_history(entry) -> str:
    """One line per past operation: what was asked, how many files, whether it can be undone."""
    d = entry.details
    what = {
        "remove": lambda: _tags(d.get("tags", [])),
        "replace": lambda: f"{_tags(d.get('sources', []))} → {d.get('target')}",
        "trigger": lambda: str(d.get("word", "")),
        "remove-pattern": lambda: _tags(d.get("patterns", [])),
        "junk": lambda: f"{len(d.get('junk', []))} list tags",
        "edit": lambda: str(d.get("image", "")),
    }.get(entry.op, lambda: str(d.get("mode", "")) if entry.op.startswith("tag-") else "")()
    state = "undone" if entry.undone else "undoable" if entry.undoable else "expired"
    clock = time.strftime("%m-%d %H:%M", time.localtime(entry.time))
    return f"#{entry.id:<4} {clock}  {entry.op:<14} {_n(entry.files, 'file'):>9}  {state:<8}  {what}"
