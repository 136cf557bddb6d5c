"""The Tags step's dialogs: merge (m), trigger word (t), junk tags (j), remove by pattern (p), the undo
history (h), and one caption by hand (enter or e: pick an image carrying the tag under the cursor, then
edit its caption). Each dialog answers with ``dismiss()``, and the answer runs as one undoable edit
through the screen's ``_run``. A mixin of TagsScreen (screen.py), kept apart so that screen stays about
the tag table, its worker and its errors.
"""

from __future__ import annotations

from textual import work
from textual.widgets import DataTable

from tui_lora.core.dataset import tagops
from tui_lora.tui.tags.tag_table import TagTable


class DialogActions:
    """Needs the screen's ``summary``, ``project``, ``_free``, ``_run``, ``_selection``, ``_status``,
    ``action_undo``, ``query_one``, ``notify`` and ``app``; the screen's worker handler calls ``_found``
    when ``find`` is done."""

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
