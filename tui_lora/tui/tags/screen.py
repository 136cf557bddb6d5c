"""The Tags step: run the tagger (WD14 tags or BLIP sentences), then prune tags over the whole
dataset, all undoable.

The frequency table (tag, images, %) is read in a worker; every edit (remove, merge, trigger,
junk, pattern, one caption) runs in one exclusive worker over core/dataset/tagops.py, which
snapshots the captions first, so u (or ^z) restores them byte for byte. WD14 runs in a thread
(ONNX, no torch) with progress and a cancel flag, its model kept loaded between runs; BLIP needs
torch, so it runs as `tui-lora tag --backend blip` in a child process (common/child.py) that esc stops
with SIGTERM after its current batch. Running the tagger lives in tagger_actions.py; the dialogs and
the one-caption editor in dialog_actions.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from tui_lora.core.dataset import tagops
from tui_lora.core.dataset.captions import tag_key
from tui_lora.core.errors import UndoConflict, UserError
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.child import Child
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.fixes import namer, say
from tui_lora.tui.tags import tag_work
from tui_lora.tui.tags.dialog_actions import DialogActions
from tui_lora.tui.tags.tag_table import TagTable
from tui_lora.tui.tags.tagger_actions import TaggerActions
from tui_lora.tui.tags.tagger_panel import TaggerPanel
from tui_lora.tui.tags.tags_info import info_text, title_text


class TagsScreen(TaggerActions, DialogActions, WizardScreen):
    STEP_ID = "tags"
    HOME = "#tag-table"
    HELP_TITLE = "Tags"
    HELP_INTRO = ("Captions teach the LoRA which words mean what. Tag the images (r: when captions exist, it asks "
                  "whether to add to them, tag only images without one, or replace them), then prune: the "
                  "table counts how many images carry each tag. Mark rows with space and remove them (d), "
                  "merge synonyms (m), set the trigger word (t), drop junk (j) or tags matching a pattern "
                  "(p), fix one caption by hand (e). Every change is snapshotted first: u undoes it.")
    HELP_ITEMS = ("tag_table", "tags.tagger", "tags.tagger_model", "tags.threshold", "tags.character_threshold",
                  "tag_mode", "tag_merge", "tag_trigger", "dataset.keep_tokens", "tag_junk", "tags.junk_tags",
                  "tag_pattern", "tag_caption", "tag_undo", "tag_tokens")

    DEFAULT_CSS = """
    TagsScreen #tags-main {
        height: 1fr;
    }
    TagsScreen #tag-table {
        width: 1fr;
    }
    TagsScreen #tags-side {
        width: 36;
        height: 1fr;
        padding: 0 0 0 1;
        border-left: vkey $panel-lighten-1;
    }
    TagsScreen #tags-info {
        height: auto;
        margin-top: 1;
    }
    TagsScreen #tags-progress {
        height: 1;
        padding: 0 1;
    }
    TagsScreen #tags-status {
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    TagsScreen #tags-status.-error {
        color: $error;
    }
    """

    BINDINGS = [
        # Fewer step keys in the footer, so this screen's own keys fit at 80 columns.
        Binding("ctrl+p", "app.step(-1)", "Prev step", priority=True, show=False),
        Binding("ctrl+n", "app.step(1)", "Next step", priority=True, show=False),
        Binding("escape", "back", "Back"),
        Binding("escape", "stop", "Stop tagging"),
        Binding("space", "mark", "Mark"),
        Binding("d,delete", "remove", "Remove"),
        Binding("m", "merge", "Merge"),
        Binding("e", "edit", "Edit"),
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("r", "tag", "Tag"),
        Binding("t", "trigger", "Trigger word", show=False),
        Binding("j", "junk", "Junk tags", show=False),
        Binding("p", "pattern", "Remove by pattern", show=False),
        Binding("c", "clean", "Clean captions", show=False),
        Binding("s", "sort", "Sort by count/name", show=False),
        Binding("h", "history", "History", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summary: tag_work.TagSummary | None = None
        self.busy: str | None = None  # "tagging" or the operation running
        self._cancel = threading.Event()
        self._rate = tag_work.Rate()
        self._tagger = tag_work.TaggerCache()
        self._child: Child | None = None  # the BLIP captioner while it runs

    def compose_body(self) -> ComposeResult:
        yield Static("Tags · reading the captions…", classes="screen-title", id="tags-title", markup=False)
        with Horizontal(id="tags-main"):
            yield TagTable(id="tag-table")
            with VerticalScroll(id="tags-side", can_focus=False):  # tab goes from the table to the fields
                yield TaggerPanel(self.project, id="tagger")
                yield Static("", id="tags-info")
        yield Static("", id="tags-progress")
        yield Static("", id="tags-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#tags-progress").display = False
        self.query_one(TagTable).focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.summary is not None and not self.busy:
            self.reload()  # images or captions may have changed elsewhere meanwhile

    def on_screen_suspend(self) -> None:
        self.commit()

    def on_unmount(self) -> None:
        if self._child is not None:
            self._child.cancel()  # quitting the wizard stops the captioner after its batch (kept, undoable)

    def commit(self) -> None:
        if self.is_mounted:
            self.query_one(TaggerPanel).commit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.busy != "tagging"
        if action == "stop":
            return self.busy == "tagging"
        return True

    # ----- reading -----------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> tag_work.TagSummary:
        return tag_work.load_summary(self.project)

    def _show(self, summary: tag_work.TagSummary) -> None:
        self.summary = summary
        self.query_one("#tags-title", Static).update(title_text(summary.table))
        self.query_one(TagTable).show(summary.table.rows)
        self.query_one("#tags-info", Static).update(info_text(self.project, summary))

    # ----- running things ----------------------------------------------------------------------------
    def _free(self) -> bool:
        if self.busy:
            what = "the tagger is running (esc stops it)" if self.busy == "tagging" else f"{self.busy} is running"
            self.notify(f"Wait a moment: {what}.", markup=False)
            return False
        return True

    def _run(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run a caption operation in the worker; its one-line outcome goes to the status line."""
        if not self._free():
            return
        self.busy = label
        self._status(f"{label}…")
        self.operation(fn, args, kwargs)

    @work(thread=True, exclusive=True, group="op", exit_on_error=False)
    def operation(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> str:
        result = fn(self.project, *args, **kwargs)
        if isinstance(result, tagops.OpResult):
            return tag_work.describe_op(result)
        return tag_work.describe_undo(result)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group, state = event.worker.group, event.state
        if state == WorkerState.SUCCESS and group == "load":
            self._show(event.worker.result)
        if state == WorkerState.SUCCESS and group == "find":
            self._found(*event.worker.result)
        if group in ("op", "tagger") and state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.busy = None
            self.refresh_bindings()
            self.query_one("#tags-progress").display = False
            if state == WorkerState.SUCCESS:
                self._status(event.worker.result)
                if group == "tagger":  # a long run may end while you look elsewhere; edits show below
                    self.notify(event.worker.result, title="Tagger", markup=False)
            if group == "op":
                self.query_one(TagTable).clear_marks()
            self.reload()

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        if not isinstance(error, UserError):
            return False
        if worker.group == "op" and isinstance(error, UndoConflict):
            self._offer_forced_undo(error)
            return True
        text = say(error, self.STEP_ID)
        self._status(text, error=True)
        self.notify(text, severity="error", timeout=10, markup=False)
        return True

    def _offer_forced_undo(self, conflict: UndoConflict) -> None:
        from tui_lora.tui.common.confirm import ConfirmScreen

        head = conflict.problem.text(namer(self.STEP_ID))  # the dialog below is its fix
        self._status(head + ".", error=True)

        def answered(yes: bool | None) -> None:
            if yes:
                self._run("Undo", tagops.undo, force=True)

        self.app.push_screen(ConfirmScreen(f"{head}. Undo anyway, losing those later edits?", yes="Undo anyway",
                                           no="Keep them"), answered)

    def _status(self, text: str, *, error: bool = False) -> None:
        show_line(self.query_one("#tags-status", Static), text, error=error)

    # ----- table keys --------------------------------------------------------------------------------
    def action_mark(self) -> None:
        self.query_one(TagTable).toggle_mark()

    def action_sort(self) -> None:
        by = self.query_one(TagTable).toggle_sort()
        self._status(f"Sorted by {'name' if by == 'name' else 'image count'} (s switches).")

    def _selection(self) -> list[str]:
        tags = self.query_one(TagTable).selection()
        if not tags:
            self.notify("The table is empty: tag the images first (r).")
        return tags

    def action_remove(self) -> None:
        tags = self._selection()
        trigger = tag_key(self.project.settings["project"]["trigger_word"])
        if trigger and any(tag_key(t) == trigger for t in tags):
            tags = [t for t in tags if tag_key(t) != trigger]
            self.notify("The trigger word stays (t changes it).", markup=False)
        if tags:
            self._run("Removing", tagops.remove_tags, tags)

    def action_clean(self) -> None:
        self._run("Cleaning", tagops.dedupe)

    def action_undo(self) -> None:
        self._run("Undo", tagops.undo)
