"""The Tags step: run the tagger (WD14 tags or BLIP sentences), then prune tags over the whole
dataset, all undoable.

The frequency table (tag, images, %) is read in a worker; every edit (remove, merge, trigger,
junk, pattern, one caption) runs in one exclusive worker over core/dataset/tagops.py, which
snapshots the captions first, so u (or ^z) restores them byte for byte. WD14 runs in a thread
(ONNX, no torch) with progress and a cancel flag, its model kept loaded between runs; BLIP needs
torch, so it runs as `tui-lora tag --backend blip` in a child process (common/child.py) that esc stops
with SIGTERM after its current batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from tui_lora.core.dataset import tagops
from tui_lora.core.dataset.captions import tag_key
from tui_lora.core.errors import UndoConflict, UserError
from tui_lora.core.humanize import clock
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.child import Child, ChildEvent
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.progress_text import bar_with_text
from tui_lora.tui.common.fixes import namer, say
from tui_lora.tui.tags import tag_work
from tui_lora.tui.tags.tag_table import TagTable
from tui_lora.tui.tags.tagger_panel import TaggerPanel
from tui_lora.tui.tags.tags_info import info_text, title_text


class TagProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TagProgress)


class TagsScreen(WizardScreen):
    STEP_ID = "tags"
    HELP_TITLE = "Tags"
    HELP_INTRO = ("Captions teach the LoRA which words mean what. Tag the images (r), then prune: the "
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
        max-height: 2;
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

    # ----- the tagger --------------------------------------------------------------------------------
    def action_tag(self) -> None:
        panel = self.query_one(TaggerPanel)
        if not self._free():
            return
        if panel.error:
            self._status(f"Fix the tagger settings first: {panel.error}", error=True)
            return
        if self.summary is not None and self.summary.table.images == 0:
            self._status("There are no images to tag; fetch some (2) or copy them into the dataset folder.",
                         error=True)
            return
        panel.commit()
        self.busy = "tagging"
        self.refresh_bindings()
        self._cancel = threading.Event()
        self._rate = tag_work.Rate()
        self._status(f"Loading {panel.model}… (esc stops)")
        if panel.backend == "blip":
            self.caption_blip(panel.mode)
        else:
            self.tag(panel.model, panel.mode, self._cancel)

    @work(thread=True, exclusive=True, group="tagger", exit_on_error=False)
    def tag(self, model: str, mode: str, cancel: threading.Event) -> str:
        from tui_lora.core.tagging.autotag import tag_dataset

        s = self.project.settings["tags"]
        tagger = self._tagger.get(model, s["threshold"], s["character_threshold"])
        result = tag_dataset(self.project, mode=mode, tagger=tagger, cancel=cancel,
                             progress=lambda done, total: self.post_message(TagProgress(done, total)))
        return tag_work.describe_tag_run(result.to_dict(self.project.root))

    @work(thread=True, exclusive=True, group="tagger", exit_on_error=False)
    def caption_blip(self, mode: str) -> str:
        def started(child: Child) -> None:
            self._child = child
            if self._cancel.is_set():  # esc came while the child was starting
                child.cancel()

        def on_event(event: ChildEvent) -> None:
            if event.kind == "progress":
                self.post_message(TagProgress(event.done, event.total))
            elif event.kind == "warning":
                self.app.call_from_thread(self.notify, event.what, severity="warning", markup=False)

        try:
            data = tag_work.run_blip_child(self.project.root, mode, on_event, started)
        except UserError as exc:
            if exc.exit_code == 130 and self._cancel.is_set():
                return "Stopped before any image was captioned; nothing was written."
            raise
        finally:
            self._child = None
        return tag_work.describe_tag_run(data)

    def on_tag_progress(self, message: TagProgress) -> None:
        if self.busy != "tagging":
            return
        bar = self.query_one("#tags-progress", Static)
        if not bar.display:
            bar.display = True
            self._status("Tagging… (esc stops after the current batch; what is written stays, and u undoes it)")
        rate, eta = self._rate.eta(message.done, message.total)
        text = f"{message.done}/{message.total} images · {rate:.1f}/s · ETA {clock(eta)}"
        bar.update(bar_with_text(message.done, message.total, bar.content_size.width or 76, text), layout=False)

    def action_stop(self) -> None:
        if self.busy == "tagging":
            self._cancel.set()
            if self._child is not None:
                self._child.cancel()
            self._status("Stopping after the current batch…")

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

    # ----- dialogs -----------------------------------------------------------------------------------
    def action_merge(self) -> None:
        from tui_lora.tui.tags.tag_merge import MergeDialog

        table = self.query_one(TagTable)
        if (tags := self._selection()) and self._free():
            self.app.push_screen(MergeDialog([(t, table.count_of(t)) for t in tags]), self._merge)

    def _merge(self, answer: tuple[list[str], str] | None) -> None:
        if answer:
            self._run("Merging", tagops.replace_tags, *answer)

    def action_trigger(self) -> None:
        from tui_lora.tui.tags.tag_trigger import TriggerDialog

        if self._free():
            s = self.project.settings
            self.app.push_screen(TriggerDialog(s["project"]["trigger_word"], s["dataset"]["keep_tokens"],
                                               s["dataset"]["shuffle_caption"]), self._trigger)

    def _trigger(self, word: str | None) -> None:
        if word is not None:
            self._run("Setting the trigger word", tagops.set_trigger, word)

    def action_junk(self) -> None:
        from tui_lora.tui.tags.tag_junk import JunkDialog

        if self._free():
            self.app.push_screen(JunkDialog(self.project, self.project.settings["tags"]["junk_tags"]), self._junk)

    def _junk(self, junk: list[str] | None) -> None:
        if junk is None:
            return
        if junk and junk != self.project.settings["tags"]["junk_tags"]:
            self.project.set("tags.junk_tags", junk)
            self.project.save()
        self._run("Removing junk", tagops.remove_junk, junk)

    def action_pattern(self) -> None:
        from tui_lora.tui.tags.tag_pattern import PatternDialog

        if self._free():
            self.app.push_screen(PatternDialog(self.project, []), self._pattern)

    def _pattern(self, patterns: list[str] | None) -> None:
        if patterns is not None:
            self._run("Removing by pattern", tagops.remove_pattern, patterns)

    def action_history(self) -> None:
        from tui_lora.tui.tags.tag_history import HistoryDialog

        entries = self.summary.history if self.summary else []
        self.app.push_screen(HistoryDialog(entries), lambda answer: answer == "undo" and self.action_undo())

    # ----- one caption -------------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_edit(self) -> None:
        if self._free():
            self.find(self.query_one(TagTable).cursor_tag)

    @work(thread=True, exclusive=True, group="find", exit_on_error=False)
    def find(self, tag: str | None) -> tuple[str | None, list]:
        if tag is None:
            return None, [(e.image, e.tags) for e in tagops.load_captions(self.project)]
        return tag, [(f.image, f.tags) for f in tagops.find_images(self.project, tag)]

    def _found(self, tag: str | None, images: list) -> None:
        from tui_lora.tui.tags.caption_picker import CaptionPicker

        if not images:
            self.notify("There are no images in the dataset yet.")
            return
        title = f"Images with {tag!r} ({len(images)})" if tag else f"All images ({len(images)})"
        self.app.push_screen(CaptionPicker(title, self.project.root, images), self._picked)

    def _picked(self, image) -> None:
        from tui_lora.tui.tags.caption_editor import CaptionEditor

        if image is None:
            return
        caption = tagops.read_image_caption(self.project, image)
        if caption.error:
            self._status(f"The caption of {image.name} {caption.error}; fix or delete that file first.", error=True)
            return
        label = image.relative_to(self.project.dataset_dir).as_posix()
        limit = self.project.settings["training"]["max_token_length"]

        def saved(text: str | None) -> None:
            if text is not None:
                self._run("Saving the caption", tagops.edit_caption, image, text)

        self.app.push_screen(CaptionEditor(image, label, caption.tags, limit), saved)
