"""Base of the junk and pattern dialogs: a list of tags or globs, and a live preview of what
removing them would do (a dry run of the real operation, a moment after typing stops)."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, Static, TextArea
from textual.worker import get_current_worker

from tui_lora.core.dataset.captions import parse_tags
from tui_lora.core.errors import UserError
from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.fixes import say
from tui_lora.tui.tags.tag_work import removal_counts

PREVIEW_DELAY_S = 0.3


class PreviewReady(Message):
    def __init__(self, text: str, error: bool = False) -> None:
        super().__init__()
        self.text, self.error = text, error


class RemovalDialog(Dialog):
    """Dismisses with the list of tags/globs to remove. Subclasses set the texts and ``dry_run``."""

    INTRO = ""
    LABEL = ""
    MULTILINE = False

    def __init__(self, project, items: list[str]) -> None:
        super().__init__()
        self.project = project
        self.initial = ", ".join(items)

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.INTRO, classes="dialog-text", markup=False)
        if self.MULTILINE:
            yield Static(self.LABEL, classes="dialog-dim", markup=False)
            area = TextArea(self.initial, id="removal-text", soft_wrap=True, show_line_numbers=False,
                            tab_behavior="focus", compact=True)
            area.styles.height = 5
            yield area
        else:
            yield Field(self.LABEL, text_input("removal-text", self.initial), label_width=9)
        yield Static("", id="removal-preview", classes="dialog-dim", markup=False)

    def on_mount(self) -> None:
        widget = self.query_one("#removal-text")
        if isinstance(widget, TextArea) and getattr(self.app, "frozen", False):
            widget.cursor_blink = False
        widget.focus()
        self.preview(self.items())

    def items(self) -> list[str]:
        widget = self.query_one("#removal-text")
        return parse_tags(widget.text if isinstance(widget, TextArea) else widget.value)

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self.preview(self.items())

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def preview(self, items: list[str]) -> None:
        time.sleep(PREVIEW_DELAY_S)
        if get_current_worker().is_cancelled:
            return
        try:
            result = self.dry_run(items)
        except UserError as exc:
            self.post_message(PreviewReady(say(exc, "tags"), error=True))
            return
        counts = removal_counts(result)
        if not counts:
            text = "Nothing in this dataset matches."
        else:
            shown = ", ".join(f"{t} ({n})" for t, n in counts[:8]) + (" …" if len(counts) > 8 else "")
            tags = f"{len(counts)} tag" + ("" if len(counts) == 1 else "s")
            text = f"Removes {tags} from {result.files_changed} caption{'' if result.files_changed == 1 else 's'}: {shown}"
        self.post_message(PreviewReady(text))

    def dry_run(self, items: list[str]):
        raise NotImplementedError

    def on_preview_ready(self, message: PreviewReady) -> None:
        preview = self.query_one("#removal-preview", Static)
        preview.update(message.text)
        preview.set_classes("dialog-error" if message.error else "dialog-dim")

    def action_apply(self) -> None:
        self.dismiss(self.items())
