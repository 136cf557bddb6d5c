"""The Review screen's data as plain Python: what a scan, the duplicate groups and the trash hold,
turned into the items each view shows, with their labels and the filters' counts.

Views: ``all`` (every file), ``problems`` (files with any problem), ``problem:<code>`` (one
problem), ``dupes`` (near-duplicate groups, one group per row run, the suggested keeper first)
and ``trash``. "Keep all" answers for a duplicate group are remembered per project in
``.cache/review.json`` (by content hash), so a group you judged not to be duplicates stays
hidden after a rescan — until another copy joins it.

No textual here: the screen calls :func:`load` in a worker thread and renders the result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.dataset.checks import Problem
from tui_lora.core.dataset.records import FileRecord, ScanReport
from tui_lora.core.fsutil import atomic_write_text
from tui_lora.tui.common.item import Item

if TYPE_CHECKING:
    from tui_lora.core.dataset.dedupe import DedupeReport, DuplicateGroup, Member
    from tui_lora.core.dataset.trash import TrashEntry
    from tui_lora.core.project import Project

VIEWS = ("all", "problems", "dupes", "trash")  # what tab cycles through
VIEW_LABELS = {"all": "All files", "problems": "With problems", "dupes": "Duplicates", "trash": "Trash"}
DECISIONS_FILE = "review.json"

# What the wizard says instead of a problem's CLI advice (the same fix, reached with a key).
WIZARD_ADVICE: dict[Problem, str] = {
    Problem.MISSING_CAPTION: "tag it on the Tags step (4)",
    Problem.EMPTY_CAPTION: "tag it on the Tags step (4) or write one there (e)",
    Problem.EXTREME_ASPECT: "crop it (c), or move it to the trash (d)",
    Problem.TOO_SMALL: "replace it with a larger version, or move it to the trash (d)",
    Problem.OUTSIDE_CONCEPT: "move it into a folder such as dataset/10_name/ (the Project step lists them)",
}


@dataclass
class ReviewData:
    scan: ScanReport
    dedupe: "DedupeReport | None"
    trash: list["TrashEntry"]
    not_duplicates: list[frozenset[str]] = field(default_factory=list)

    # ----- duplicate groups ------------------------------------------------------------------------
    def groups(self) -> list["DuplicateGroup"]:
        """The groups still to decide on (those answered "keep all" are left out)."""
        if self.dedupe is None:
            return []
        out = []
        for g in self.dedupe.groups:
            shas = frozenset(m.record.sha256 or m.record.rel for m in g.members)
            if not any(shas <= kept for kept in self.not_duplicates):
                out.append(g)
        return out

    # ----- items per view --------------------------------------------------------------------------
    def items(self, view: str) -> list[Item]:
        if view == "trash":
            return [_trash_item(e) for e in self.trash]
        if view == "dupes":
            return [it for row in self.group_rows(1 << 30) for it in row]
        records = self.scan.records
        if view == "problems":
            records = [r for r in records if r.issues]
        elif view.startswith("problem:"):
            code = Problem(view.split(":", 1)[1])
            records = [r for r in records if r.has(code)]
        return [_record_item(r) for r in records]

    def rows(self, view: str, cols: int) -> list[list[Item]]:
        """The view's items in rows of ``cols``; duplicate groups each start a row."""
        cols = max(1, cols)
        if view == "dupes":
            return self.group_rows(cols)
        items = self.items(view)
        return [items[i:i + cols] for i in range(0, len(items), cols)]

    def group_rows(self, cols: int) -> list[list[Item]]:
        rows: list[list[Item]] = []
        for n, g in enumerate(self.groups()):
            members = [_member_item(m, n, keeper=(i == 0)) for i, m in enumerate(g.members)]
            rows += [members[i:i + cols] for i in range(0, len(members), cols)]
        return rows

    # ----- counts for the title and the filter picker ----------------------------------------------
    def filters(self) -> list[tuple[str, str, int]]:
        """(view id, label, count) for the filter picker: the views, then each problem present."""
        counts = self.scan.counts()
        out = [("all", VIEW_LABELS["all"], len(self.scan.records)),
               ("problems", VIEW_LABELS["problems"], len(self.scan.with_issues)),
               ("dupes", VIEW_LABELS["dupes"] + " (groups)", len(self.groups())),
               ("trash", VIEW_LABELS["trash"], len(self.trash))]
        for code, n in counts.items():
            out.append((f"problem:{code.value}", problem_label(code), n))
        return out

    def count(self, view: str) -> int:
        if view == "dupes":
            return len(self.groups())
        return len(self.items(view))


def view_label(view: str) -> str:
    if view.startswith("problem:"):
        return problem_label(Problem(view.split(":", 1)[1]))
    return VIEW_LABELS.get(view, view)


def problem_label(code: Problem) -> str:
    """A short name for a filter: the title up to its first bracket or comma."""
    title = code.info.title
    for sep in (" (", ", ", " — "):
        title = title.split(sep)[0]
    return title[0].upper() + title[1:]


def advice(code: Problem) -> str:
    """What fixes a problem, in the wizard's keys: the automatic fix (x) or what a person does."""
    info = code.info
    if info.fix is not None:
        return f"x {info.fix}"
    return WIZARD_ADVICE.get(code, info.advice)


def _record_item(r: FileRecord) -> Item:
    return Item(str(r.path), r.path, r.path.name, record=r, sha256=r.sha256)


def _member_item(m: "Member", group: int, *, keeper: bool) -> Item:
    r = m.record
    return Item(str(r.path), r.path, r.path.name, record=r, sha256=r.sha256, group=group, member=m, keeper=keeper)


def _trash_item(e: "TrashEntry") -> Item:
    first = e.files[0] if e.files else None
    path = e.folder / first.stored if first else e.folder
    return Item(e.id, path, e.name, sha256=first.sha256 if first else None, entry=e)


# ----- loading -------------------------------------------------------------------------------------
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def load(project: "Project", *, progress: Progress | None = None, cancel: threading.Event | None = None,
         with_duplicates: bool = True) -> ReviewData:
    """Scan the dataset (cached: cheap when nothing changed) and list the trash; then, unless
    ``with_duplicates`` is False, group near-duplicates (see :func:`find_duplicates`)."""
    from tui_lora.core.dataset import scan, trash

    report = scan.scan(project, cancel=cancel, progress=(lambda d, t: progress("scan", d, t)) if progress else None)
    data = ReviewData(report, None, trash.list_trash(project), load_not_duplicates(project))
    if with_duplicates and not report.cancelled:
        find_duplicates(data, progress=progress, cancel=cancel)
    return data


def signature(data: ReviewData) -> tuple:
    """What duplicate groups depend on: which decodable images there are, and their contents."""
    return tuple(sorted((r.rel, r.sha256 or "") for r in data.scan.images if r.readable))


def find_duplicates(data: ReviewData, *, previous: "tuple[tuple, DedupeReport] | None" = None,
                    progress: Progress | None = None, cancel: threading.Event | None = None) -> ReviewData:
    """Fill ``data.dedupe``; ``previous`` (signature, report) is reused when the images are the same.

    Grouping 1,000 images takes most of a second, so the screen shows the scan first and
    calls this afterwards, and skips it when only captions or decisions changed.
    """
    from tui_lora.core.dataset import dedupe

    if previous is not None and previous[0] == signature(data):
        data.dedupe = _rebased(previous[1], data.scan)
        return data
    data.dedupe = dedupe.find_in_records(data.scan.images, dedupe.HashBackend(), cancel=cancel,
                                         progress=(lambda d, t: progress("dedupe", d, t)) if progress else None)
    return data


def _rebased(report: "DedupeReport", scan: ScanReport) -> "DedupeReport":
    """The same groups over this scan's records (their captions and problems may be newer)."""
    from tui_lora.core.dataset.dedupe import DuplicateGroup

    by_path = {r.path: r for r in scan.images}

    def member(m: "Member") -> "Member":
        return replace(m, record=by_path.get(m.record.path, m.record))

    groups = [DuplicateGroup(member(g.keeper), [member(o) for o in g.others], g.reference) for g in report.groups]
    return replace(report, groups=groups)


def _decisions_path(project: "Project") -> Path:
    return project.cache_dir / DECISIONS_FILE


def load_not_duplicates(project: "Project") -> list[frozenset[str]]:
    try:
        data = json.loads(_decisions_path(project).read_text(encoding="utf-8"))
        return [frozenset(map(str, s)) for s in data.get("not_duplicates", []) if isinstance(s, list)]
    except (OSError, ValueError, AttributeError):
        return []  # no answers yet, or a damaged file: groups simply show again


def keep_all(project: "Project", group: "DuplicateGroup") -> list[frozenset[str]]:
    """Remember that ``group`` is not a set of duplicates; returns every remembered answer."""
    answers = load_not_duplicates(project)
    shas = frozenset(m.record.sha256 or m.record.rel for m in group.members)
    answers = [a for a in answers if not a <= shas] + [shas]
    path = _decisions_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"not_duplicates": [sorted(a) for a in answers]}, indent=1))
    return answers
