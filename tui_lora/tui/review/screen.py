"""The Review step: look at every image, drop the bad ones and the near-duplicates, fix the rest.

A worker scans dataset/ (core's scan: cached, so a rescan after each action is cheap), groups
near-duplicates and lists the trash; the grid (thumb_grid.py) mounts only the cells on
screen and loads only their thumbnails, in one thread worker fed by common/thumb_loader.py. Every
action runs in one exclusive worker over review_ops.py, through core, so nothing is deleted:
files go to dataset/.trash/, ``u`` restores what the last action moved, the Trash view the rest.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui_lora.core.errors import UserError
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.progress_text import bar_with_text
from tui_lora.tui.common.thumb_loader import ThumbLoader, ThumbRequest
from tui_lora.tui.common.fixes import say
from tui_lora.tui.review import review_model
from tui_lora.tui.review import review_text
from tui_lora.tui.review.review_actions import ReviewActions
from tui_lora.tui.review.thumb_grid import ZOOMS, ThumbGrid

EMPTY = {
    "all": "No images in dataset/ yet: fetch some (2) or copy them into dataset/<repeats>_<name>/, then s scans again.",
    "problems": "No problems found: every image decodes, is large enough and has a caption.",
    "dupes": "No near-duplicates left to decide on.",
    "trash": "The trash is empty. Files you remove here (d) wait in dataset/.trash/ until you restore them.",
}


class ReviewProgress(Message):
    def __init__(self, stage: str, done: int, total: int) -> None:
        super().__init__()
        self.stage, self.done, self.total = stage, done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ReviewProgress)


class DataReloaded(Message):
    """What is on disk now: first the scan, then again with the duplicate groups."""

    def __init__(self, data: review_model.ReviewData, generation: int) -> None:
        super().__init__()
        self.data, self.generation = data, generation


class ThumbsReady(Message):
    """Some thumbnails finished loading; the handler asks the loader which (a burst is one message)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ThumbsReady)


class ReviewScreen(ReviewActions, WizardScreen):
    STEP_ID = "review"
    HELP_TITLE = "Review"
    HELP_INTRO = ("Check every image before training: one broken, tiny or duplicated picture is learnt as "
                  "faithfully as a good one. Move through the grid with the arrows; the side panel shows the "
                  "selected file, its caption and its problems. space marks, d moves the marked files (or the "
                  "one under the cursor) to dataset/.trash/ — nothing is deleted: u undoes, the Trash view "
                  "restores. f picks what to show (one kind of problem, duplicates, the trash), tab steps "
                  "through the views, enter shows the image full screen.")
    HELP_ITEMS = ("review_grid", "review_problems", "review_fix", "review_crop", "review_dupes", "review_trash",
                  "review_pictures")

    DEFAULT_CSS = """
    ReviewScreen #review-main {
        height: 1fr;
    }
    ReviewScreen #grid {
        width: 1fr;
    }
    ReviewScreen #preview {
        width: 30;
        padding: 0 0 0 1;
        border-left: vkey $panel-lighten-1;
    }
    ReviewScreen #review-progress {
        height: 1;
        padding: 0 1;
    }
    ReviewScreen #review-status {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ReviewScreen #review-status.-error {
        color: $error;
    }
    """

    BINDINGS = [
        Binding("ctrl+p", "app.step(-1)", "Prev step", priority=True, show=False),
        Binding("ctrl+n", "app.step(1)", "Next step", priority=True, show=False),
        Binding("escape", "back", "Back"),
        Binding("space", "mark", "Mark"),
        Binding("d,delete", "trash", "Trash"),
        Binding("x", "fix", "Fix"),
        Binding("k", "keep", "Keep this"),
        Binding("n", "not_duplicates", "Keep all"),
        Binding("r", "restore", "Restore"),
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("f", "filter", "Show…"),
        Binding("tab", "next_view(1)", "Next view", show=False),
        Binding("shift+tab", "next_view(-1)", "Previous view", show=False),
        Binding("a", "mark_all", "Mark all / none", show=False),
        Binding("X", "fix_all", "Fix everything fixable", show=False),
        Binding("c", "crop", "Crop…", show=False),
        Binding("K", "keep_suggested", "Keep every ★ keeper", show=False),
        Binding("R", "restore_all", "Restore everything", show=False),
        Binding("v", "view_image", "Full-screen preview (or enter)", show=False),
        Binding("p", "toggle_preview", "Side panel on/off", show=False),
        Binding("plus,equals_sign", "zoom(1)", "Bigger thumbnails", show=False),
        Binding("minus", "zoom(-1)", "Smaller thumbnails", show=False),
        Binding("s", "rescan", "Scan again", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.loader = ThumbLoader(self.project)
        self.data: review_model.ReviewData | None = None
        self.view = "all"
        self.busy: str | None = None
        self.undo_stack: list[list[str]] = []
        self._cancel = threading.Event()
        self._viewer = None
        self._generation = 0  # readings of the disk; an older one arriving late is dropped
        self._dupes: tuple | None = None  # (signature, DedupeReport) of the last grouping, reused when unchanged

    # ----- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(review_text.title(None, self.view, (0, 0)), classes="screen-title", id="review-title")
        with Horizontal(id="review-main"):
            yield ThumbGrid(self.loader, self.want_thumbs, id="grid")
            yield ImagePreview(self.loader, self.want_thumbs, id="preview")
        yield Static("", id="review-progress")
        yield Static("", id="review-status", markup=False)

    @property
    def grid(self) -> ThumbGrid:
        return self.query_one(ThumbGrid)

    def on_mount(self) -> None:
        self._progress(False)
        self.grid.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.data is not None and not self.busy:
            self.reload()  # Fetch, Tags or a shell may have changed the files meanwhile

    def on_screen_suspend(self) -> None:
        self._cancel.set()  # a scan in progress stops; coming back scans again (cached)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        view = self.view
        if action == "trash":
            return view != "trash"
        if action in ("fix", "fix_all"):  # (not offered beside the keep keys: the footer is full)
            return view not in ("trash", "dupes")
        if action in ("keep", "not_duplicates", "keep_suggested"):
            return view == "dupes"
        if action in ("restore", "restore_all"):
            return view == "trash"
        return True

    # ----- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        self.busy = "scanning"
        self._cancel.set()
        self._cancel = threading.Event()
        self._generation += 1
        self.load_data(self._cancel, self._generation)

    def action_rescan(self) -> None:
        if self._free():
            self.reload()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_data(self, cancel: threading.Event, generation: int) -> None:
        self._read(cancel, generation)

    def _read(self, cancel: threading.Event, generation: int) -> None:
        """Scan and post it, then group duplicates and post again (runs in a worker thread)."""
        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(ReviewProgress(stage, done, total))

        data = review_model.load(self.project, progress=progress, cancel=cancel, with_duplicates=False)
        self.post_message(DataReloaded(data, generation))
        if data.scan.cancelled or cancel.is_set():
            return
        grouped = replace(data)
        review_model.find_duplicates(grouped, previous=self._dupes, progress=progress, cancel=cancel)
        if not cancel.is_set():
            self._dupes = (review_model.signature(grouped), grouped.dedupe)
            self.post_message(DataReloaded(grouped, generation))

    def on_data_reloaded(self, message: DataReloaded) -> None:
        if message.generation != self._generation:
            return  # an older reading, overtaken by an action's
        if self.busy == "scanning":
            self.busy = None  # browsing and acting can start; grouping goes on behind
            self._progress(False)
        self._apply(message.data)

    def on_review_progress(self, message: ReviewProgress) -> None:
        if message.total < 50 or (message.stage == "scan" and self.busy != "scanning"):
            return  # a small or cached dataset: no bar flashing by
        bar = self.query_one("#review-progress", Static)
        self._progress(True)
        what = "Scanning images" if message.stage == "scan" else "Looking for near-duplicates"
        text = f"{what}: {message.done}/{message.total} (esc leaves; the scan resumes from its cache)"
        bar.update(bar_with_text(message.done, message.total, bar.content_size.width or 76, text), layout=False)

    def _apply(self, data: review_model.ReviewData) -> None:
        self.data = data
        if data.scan.cancelled:
            self._status("The scan stopped early; s scans again.", error=True)
        self._show_view()

    def _show_view(self, new_view: bool = False) -> None:
        data = self.data
        if data is None:
            return
        view = self.view
        empty = EMPTY.get(view, "No more files with this problem. f picks another view.")
        self.grid.set_content(lambda cols: data.rows(view, cols), empty=empty, new_view=new_view)
        self._update_title()
        self.refresh_bindings()

    def _update_title(self) -> None:
        self.query_one("#review-title", Static).update(review_text.title(self.data, self.view, self.grid.position()))

    # ----- thumbnails ----------------------------------------------------------------------------
    def want_thumbs(self, requests: list[ThumbRequest], channel: str) -> None:
        if self.loader.want(requests, channel):
            self.load_thumbs()

    @work(thread=True, group="thumbs", exit_on_error=False)
    def load_thumbs(self) -> None:
        worker = get_current_worker()
        self.loader.run(lambda: self.post_message(ThumbsReady()), lambda: worker.is_cancelled)

    def on_thumbs_ready(self, _: ThumbsReady) -> None:
        keys = self.loader.take_ready()
        self.grid.pictures_ready(keys)
        self.query_one(ImagePreview).pictures_ready(keys)
        if self._viewer is not None:
            self._viewer.pictures_ready(keys)

    # ----- the selection -------------------------------------------------------------------------
    @on(ThumbGrid.CursorMoved)
    def _cursor_moved(self, event: ThumbGrid.CursorMoved) -> None:
        self.query_one(ImagePreview).show(event.item, self.details_of(event.item))
        self._update_title()
        self._show_in_viewer()

    def details_of(self, item: Item | None) -> Text:
        ext = self.project.settings["dataset"]["caption_extension"] or ".txt"
        return review_text.details(item, self.data, ext)

    @on(ThumbGrid.Activated)
    def _activated(self) -> None:
        self.action_view_image()

    def action_view_image(self) -> None:
        from tui_lora.tui.review.image_viewer import ImageViewer

        item = self.grid.current
        if item is None:
            return
        self._viewer = ImageViewer(self.loader, self.want_thumbs, self._viewer_act, item, self.details_of(item))

        def closed(_: Any) -> None:
            self._viewer = None

        self.app.push_screen(self._viewer, closed)

    def _viewer_act(self, what: str) -> None:
        """A key pressed in the full-screen viewer: the same action as on the grid, then the viewer
        shows where the cursor is now."""
        acts = {"previous": lambda: self.grid.action_move(-1, 0), "next": lambda: self.grid.action_move(1, 0),
                "mark": self.action_mark, "trash": self.action_trash, "fix": self.action_fix,
                "help": self.action_help}
        acts[what]()
        if what != "help":
            self._show_in_viewer()

    def _show_in_viewer(self) -> None:
        if self._viewer is None:
            return
        item = self.grid.current
        if item is None:
            self._viewer.dismiss(None)
        else:
            self._viewer.show(item, self.details_of(item))

    def action_mark(self) -> None:
        self.grid.toggle_mark()
        self.grid.action_move(1, 0)  # on to the next one, as in a file manager

    def action_mark_all(self) -> None:
        on_ = self.grid.mark_all()
        self._status(f"Marked all {len(self.grid.marked)} in this view." if on_ else "Marks cleared.")

    # ----- views ---------------------------------------------------------------------------------
    def set_view(self, view: str) -> None:
        if view == self.view:
            return
        self.view = view
        self.grid.marked.clear()  # never act on files you can no longer see
        self._show_view(new_view=True)
        if view.startswith("problem:"):
            from tui_lora.core.dataset.checks import Problem

            self._status(f"{review_model.view_label(view)}: {review_model.advice(Problem(view.split(':', 1)[1]))}.")
        else:
            self._status("")

    def action_next_view(self, step: int) -> None:
        views = list(review_model.VIEWS)
        i = views.index(self.view) if self.view in views else 0
        self.set_view(views[(i + step) % len(views)])

    def action_filter(self) -> None:
        from tui_lora.tui.review.review_filter import FilterPicker

        if self.data is None:
            return
        self.app.push_screen(FilterPicker(self.data.filters(), self.view),
                             lambda view: view and self.set_view(view))

    def action_toggle_preview(self) -> None:
        preview = self.query_one(ImagePreview)
        preview.display = not preview.display

    def action_zoom(self, step: int) -> None:
        self.grid.set_zoom(self.grid.zoom + step)
        w, h = ZOOMS[self.grid.zoom]
        self._status(f"Thumbnails at least {w}×{h} cells (+ and - change it).")

    # ----- workers finishing ---------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group, state = event.worker.group, event.state
        if group not in ("load", "op") or state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                         WorkerState.CANCELLED):
            return
        if group == "op" or self.busy == "scanning":
            self.busy = None
        self._progress(False)
        if group == "op" and state == WorkerState.SUCCESS:
            result = event.worker.result
            self.grid.marked.clear()
            self.grid.refill()
            if result.undo:
                self.undo_stack.append(result.undo)
            self._status(result.message, error=not result.ok)

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        if isinstance(error, UserError):
            self._status(say(error, self.STEP_ID), error=True)
        return False  # and a notification

    def _progress(self, on: bool) -> None:
        # The bar takes the status line's place: the grid's height (and so the thumbnails' size)
        # never changes while a scan runs.
        bar, line = self.query_one("#review-progress"), self.query_one("#review-status")
        if bar.display != on:
            bar.display, line.display = on, not on

    def _status(self, text: str, *, error: bool = False) -> None:
        show_line(self.query_one("#review-status", Static), text, error=error)

