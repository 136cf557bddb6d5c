"""The Review screen's actions on files: trash, fix, crop, keep one of a duplicate group, restore, undo.

A mixin of ReviewScreen (screen.py), kept apart so each file stays readable. Every action
runs through :meth:`ReviewActions._run`: one worker at a time (``busy``), the work itself in
review_ops.py over core, then a fresh reading of the disk, whatever happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from tui_lora.tui.review import review_model
from tui_lora.tui.review import review_ops
from tui_lora.tui.review import review_text

if TYPE_CHECKING:
    from tui_lora.tui.common.item import Item
    from tui_lora.tui.review.thumb_grid import ThumbGrid


class ReviewActions:
    """Needs from the screen: grid, data, project, busy, undo_stack, _cancel, _generation,
    _read() and _status()."""

    grid: "ThumbGrid"
    data: review_model.ReviewData | None
    busy: str | None
    undo_stack: list[list[str]]
    _cancel: threading.Event
    _generation: int

    def _free(self) -> bool:
        if self.busy:
            self.notify(f"Wait a moment: {self.busy} is running.", markup=False)
            return False
        return True

    def _run(self, label: str, fn: Callable[..., review_ops.OpResult], *args: Any) -> None:
        if not self._free():
            return
        self.busy = label
        self._status(f"{label}…")
        self._cancel.set()  # a grouping still going on is about the files as they were
        self._cancel = threading.Event()
        self._generation += 1
        self.operation(fn, args, self._cancel, self._generation)

    @work(thread=True, group="op", exit_on_error=False)  # (one at a time: busy; never cancelled, its undo ids count)
    def operation(self, fn: Callable[..., review_ops.OpResult], args: tuple, cancel: threading.Event,
                  generation: int) -> review_ops.OpResult:
        try:
            return fn(self.project, *args)
        finally:
            self._read(cancel, generation)  # what is on disk now, whatever happened

    def action_trash(self) -> None:
        items = [it for it in self.grid.selection() if it.record is not None]
        if items:
            self._run("Moving to the trash", review_ops.trash_items, items)

    def action_fix(self) -> None:
        items = self.grid.selection()
        if items:
            self._run("Fixing", review_ops.fix_items, items)

    def action_crop(self) -> None:
        from tui_lora.tui.review.review_crop import CropDialog

        items = [it for it in self.grid.selection() if it.record is not None and it.record.kind == "image"]
        if not items or not self._free():
            return
        readable = [it for it in items if it.record.readable]
        if not readable:
            self._status("That image does not decode, so it cannot be cropped; x moves it to the trash.")
            return
        ds = self.project.settings["dataset"]
        # The dialog starts on landscape for a wide first image, portrait for a tall one.
        w, h = readable[0].record.width, readable[0].record.height
        aspect = "3:2" if w >= 1.3 * h else "2:3" if h >= 1.3 * w else "1:1"
        items = readable

        def chosen(answer: tuple[str, int, str] | None) -> None:
            if answer is not None:
                self._run("Cropping", review_ops.crop_items, items, *answer)

        self.app.push_screen(CropDialog([it.name for it in items], int(ds["resolution"]), bool(ds["enable_bucket"]), aspect),
                             chosen)

    def action_fix_all(self) -> None:
        if self.data is None or not self._free():
            return
        fixable = [r for r in self.data.scan.records if r.fixable]
        if not fixable:
            self._status("Nothing in the dataset is fixed automatically; f shows what needs a person.")
            return
        counts: dict[str, int] = {}
        for r in fixable:
            for i in r.issues:
                if i.fixable:
                    kind = review_model.problem_label(i.code).lower()
                    counts[kind] = counts.get(kind, 0) + 1
        what = ", ".join(f"{n} {label}" for label, n in counts.items())
        self._confirm(f"Fix {review_text.plural(len(fixable), 'file')} ({what})? Unreadable files go to the trash; the "
                      "others are repaired, with the originals kept in the trash (u undoes).", "Fix all",
                      lambda: self._run("Fixing everything fixable", review_ops.fix_items, None))

    def _group_of(self, item: Item | None):
        if item is None or item.group is None or self.data is None:
            return None
        groups = self.data.groups()
        return groups[item.group] if item.group < len(groups) else None

    def action_keep(self) -> None:
        item = self.grid.current
        group = self._group_of(item)
        if group is not None and item is not None and item.member is not None:
            self._run("Keeping one copy", review_ops.keep_one, group, item.member)

    def action_keep_suggested(self) -> None:
        if self.data is None or not self._free():
            return
        groups = self.data.groups()
        others = sum(len(g.others) for g in groups)
        if groups:
            self._confirm(f"Keep the ★ image of each of the {review_text.plural(len(groups), 'group')} and move the "
                          f"{review_text.plural(others, 'other')} to the trash (u undoes)?", "Keep every ★",
                          lambda: self._run("Removing duplicates", review_ops.keep_suggested, groups))

    def action_not_duplicates(self) -> None:
        group = self._group_of(self.grid.current)
        if group is None or self.data is None:
            return
        self.data.not_duplicates = review_model.keep_all(self.project, group)
        self._show_view()
        self._status(f"Kept all {len(group.members)}: that group will not be suggested again.")

    def action_restore(self) -> None:
        ids = [it.entry.id for it in self.grid.selection() if it.entry is not None]
        if ids:
            self._run("Restoring", review_ops.restore_items, ids)

    def action_restore_all(self) -> None:
        if self.data and self.data.trash and self._free():
            self._confirm(f"Put all {review_text.plural(len(self.data.trash), 'entry')} back where they came from?",
                          "Restore all", lambda: self._run("Restoring everything", review_ops.restore_items, None))

    def action_undo(self) -> None:
        if not self.undo_stack:
            self._status("Nothing to undo in this session; the Trash view (tab) restores older removals.")
            return
        if self._free():
            self._run("Undoing", review_ops.undo, self.undo_stack.pop())

    def _confirm(self, question: str, yes: str, then: Callable[[], None]) -> None:
        from tui_lora.tui.common.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question, yes=yes, no="Cancel"), lambda ok: ok and then())

