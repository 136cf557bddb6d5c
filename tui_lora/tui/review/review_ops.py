"""What the Review screen's keys do to the files, as plain functions run in its worker thread.

Every change goes through core (trash.py, fix.py, dedupe.py): nothing is deleted, each change
is one or more trash entries, and :class:`OpResult` carries their ids so ``u`` can restore
exactly what the last action moved or replaced.

No textual here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui_lora.core.errors import UserError
from tui_lora.tui.review import review_text

if TYPE_CHECKING:
    from tui_lora.core.dataset.dedupe import DuplicateGroup, Member
    from tui_lora.core.project import Project
    from tui_lora.tui.common.item import Item

REASON = "removed in review"


@dataclass
class OpResult:
    message: str
    undo: list[str] = field(default_factory=list)  # trash entry ids made by this action
    ok: bool = True


def trash_items(project: "Project", items: Sequence["Item"]) -> OpResult:
    """Move the files (images with their captions) to dataset/.trash/."""
    from tui_lora.core.dataset.trash import move_to_trash

    paths = [it.path for it in items if it.record is not None]
    if not paths:
        return OpResult("Nothing to move: pick files in the grid first.", ok=False)
    entries = move_to_trash(project, paths, reason=REASON)
    return OpResult(review_text.trashed_line(len(entries)), [e.id for e in entries])


def keep_one(project: "Project", group: "DuplicateGroup", keeper: "Member") -> OpResult:
    """Keep ``keeper`` and move the rest of its group to the trash (its caption survives)."""
    from tui_lora.core.dataset.dedupe import DuplicateGroup, trash_duplicates

    others = [m for m in group.members if m is not keeper]
    entries = trash_duplicates(project, [DuplicateGroup(keeper, others, group.reference)])
    line = review_text.trashed_line(len(entries), f"duplicates of {keeper.path.name}")
    return OpResult(line, [e.id for e in entries])


def keep_suggested(project: "Project", groups: Sequence["DuplicateGroup"]) -> OpResult:
    """Keep every group's suggested keeper; the others go to the trash."""
    from tui_lora.core.dataset.dedupe import trash_duplicates

    entries = trash_duplicates(project, list(groups))
    why = f"duplicates, {review_text.plural(len(groups), 'group')}"
    return OpResult(review_text.trashed_line(len(entries), why), [e.id for e in entries])


def fix_items(project: "Project", items: Sequence["Item"] | None) -> OpResult:
    """Fix these files (None: everything fixable); originals go to the trash."""
    from tui_lora.core.dataset.fix import fix

    if items is not None:
        records = [it.record for it in items if it.record is not None and it.record.fixable]
        if not records:
            return OpResult("Nothing there is fixed automatically; the panel says what to do instead.", ok=False)
        report = fix(project, records)
    else:
        report = fix(project)
    ids = [r.entry_id for r in report.results if r.entry_id]
    return OpResult(review_text.fix_line(report), ids, ok=bool(ids))


def crop_items(project: "Project", items: Sequence["Item"], aspect: str, size: int, mode: str) -> OpResult:
    """Crop these images in place (core's crop); each original goes to the trash."""
    from tui_lora.core.dataset.crop import crop_images

    paths = [it.path for it in items if it.record is not None]
    if not paths:
        return OpResult("Nothing to crop: pick images in the grid first.", ok=False)
    report = crop_images(project, paths, aspect=aspect, size=size, mode=mode)
    ids = [r.entry_id for r in report.results if r.entry_id]
    return OpResult(review_text.crop_line(report), ids, ok=bool(ids))


def restore_items(project: "Project", entry_ids: Sequence[str] | None) -> OpResult:
    """Put trash entries back (None: all of them)."""
    from tui_lora.core.dataset.trash import restore

    results = restore(project, list(entry_ids) if entry_ids is not None else None)
    return OpResult(review_text.restore_line(results), ok=any(r.restored for r in results))


def undo(project: "Project", entry_ids: Sequence[str]) -> OpResult:
    """Restore what the last action moved or replaced."""
    from tui_lora.core.dataset.trash import list_trash, restore

    present = {e.id for e in list_trash(project)}
    ids = [i for i in entry_ids if i in present]
    if not ids:
        raise UserError("Those files are no longer in the trash (restored or removed by hand); nothing to undo.")
    results = restore(project, ids)
    return OpResult("Undone: " + review_text.restore_line(results))
