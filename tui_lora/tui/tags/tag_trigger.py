"""Trigger-word dialog: the word goes first in every caption; keep_tokens makes sure it stays there."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input


class TriggerDialog(Dialog):
    """Dismisses with the word."""

    TITLE_TEXT = "Trigger word"

    def __init__(self, word: str, keep_tokens: int, shuffle: bool) -> None:
        super().__init__()
        self.word, self.keep_tokens, self.shuffle = word, keep_tokens, shuffle

    def compose_dialog(self) -> ComposeResult:
        keep = (f"dataset.keep_tokens is {self.keep_tokens}, so it stays first." if self.keep_tokens >= 1 else
                "dataset.keep_tokens is 0 now and becomes 1, so caption shuffling never moves the word.")
        shuffle = " (shuffle_caption is on)" if self.shuffle else ""
        yield Static("The word goes first in every caption (images without one get a caption of just the word) "
                     f"and becomes the project's trigger word; the previous one is removed. {keep}{shuffle}",
                     classes="dialog-text", markup=False)
        yield Field("Word", text_input("trigger-word", self.word, placeholder="e.g. ohwx"), label_width=6)

    def on_mount(self) -> None:
        self.query_one("#trigger-word", Input).focus()

    def action_apply(self) -> None:
        self.dismiss(self.query_one("#trigger-word", Input).value.strip())
