"""Merge dialog: several tags that mean the same thing become one (enter applies)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input


class MergeDialog(Dialog):
    """Dismisses with ``(sources, target)``; ``sources`` are (tag, images) pairs."""

    TITLE_TEXT = "Merge tags"

    def __init__(self, sources: list[tuple[str, int]]) -> None:
        super().__init__()
        self.sources = sources

    def compose_dialog(self) -> ComposeResult:
        listed = ", ".join(f"{t} ({n})" for t, n in self.sources)
        yield Static(f"Every caption holding any of {listed} gets the tag below once, where the first of them "
                     "stood. An empty target removes them.", classes="dialog-text", markup=False)
        best = max(self.sources, key=lambda s: s[1])[0] if self.sources else ""
        yield Field("Into", text_input("merge-target", best), label_width=6)

    def on_mount(self) -> None:
        self.query_one("#merge-target", Input).focus()

    def action_apply(self) -> None:
        self.dismiss(([t for t, _ in self.sources], self.query_one("#merge-target", Input).value.strip()))
