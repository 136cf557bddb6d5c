"""The Tags step's tagger: r asks how to treat existing captions (tag_mode.py), then runs WD14 in a thread
(ONNX, no torch; the model stays loaded between runs in tag_work.TaggerCache) or BLIP as `tui-lora tag
--backend blip` in a child process, both reporting :class:`TagProgress` for the progress line, and esc
stops either after its current batch (what is written stays, undoable). A mixin of TagsScreen
(screen.py), kept apart so that screen stays about the tag table and its edits.
"""

from __future__ import annotations

import threading

from textual import work
from textual.message import Message
from textual.widgets import Static

from tui_lora.core.errors import UserError
from tui_lora.core.humanize import clock
from tui_lora.tui.common.child import Child, ChildEvent
from tui_lora.tui.common.progress_text import bar_with_text
from tui_lora.tui.tags import tag_work
from tui_lora.tui.tags.tagger_panel import TaggerPanel


class TagProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TagProgress)


class TaggerActions:
    """Needs the screen's ``summary``, ``busy``, ``_cancel``, ``_rate``, ``_tagger``, ``_child``,
    ``project``, ``_free``, ``_status``, ``action_leave_field``, ``query_one`` and ``notify``."""

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
        table = self.summary.table if self.summary is not None else None
        if table is not None and table.captioned:
            from tui_lora.tui.tags.tag_mode import TagModeDialog

            # Captions are there (the booru's tags, edits): nothing is replaced without asking.
            self.app.push_screen(TagModeDialog(table.images, table.captioned),
                                 lambda mode: self._start_tagging(mode) if mode else None)
            return
        self._start_tagging("overwrite")

    def _start_tagging(self, mode: str) -> None:
        panel = self.query_one(TaggerPanel)
        if not self._free():
            return
        panel.commit()
        self.busy = "tagging"
        self.action_leave_field()  # esc now stops the tagger
        self.refresh_bindings()
        self._cancel = threading.Event()
        self._rate = tag_work.Rate()
        self._status(f"Loading {panel.model}… (esc stops)")
        if panel.backend == "blip":
            self.caption_blip(mode)
        else:
            self.tag(panel.model, mode, self._cancel)

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
