"""The Compare step's prompt list: one prompt per line (kohya's options such as --n … may follow),
edited in a text area. ^s applies, esc cancels; it dismisses with the lines (or None). A line the
comparison could not read is named under the area and the list is not applied."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Static, TextArea

from tui_lora.core.errors import UserError
from tui_lora.core.sample_prompts import parse_prompt_line
from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.fixes import say

MAX_PROMPTS = 8


def check_lines(lines: list[str]) -> tuple[list[str], str | None]:
    """The non-empty lines, and the first problem (None when every line reads as a prompt)."""
    kept = [line.strip() for line in lines if line.strip()]
    if not kept:
        return kept, "Write at least one prompt."
    if len(kept) > MAX_PROMPTS:
        return kept, f"Give at most {MAX_PROMPTS} prompts; every prompt renders in every cell."
    for n, line in enumerate(kept, start=1):
        try:
            parse_prompt_line(line, where=f"Line {n}")
        except UserError as exc:
            return kept, say(exc, "compare")
    return kept, None


class PromptListDialog(Dialog):
    TITLE_TEXT = "Prompts: one per line, each rendered in every cell"
    KEYS_TEXT = "^s apply · enter new line · esc cancel"

    DEFAULT_CSS = """
    PromptListDialog #dialog {
        width: 78;
    }
    PromptListDialog TextArea {
        height: 8;
    }
    PromptListDialog #prompts-note {
        height: auto;
        color: $text-muted;
    }
    PromptListDialog #prompts-note.-error {
        color: $error;
    }
    """

    def __init__(self, prompts: list[str]) -> None:
        super().__init__()
        self.prompts = prompts

    def compose_dialog(self) -> ComposeResult:
        yield Static("Several prompts show what a LoRA does beyond one picture; kohya's options (--n negative, "
                     "--d seed …) may follow each.", classes="dialog-dim", markup=False)
        yield TextArea("\n".join(self.prompts), id="prompts", soft_wrap=True, compact=True)
        yield Static("", id="prompts-note", markup=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        self._check()

    def _check(self) -> tuple[list[str], str | None]:
        lines, problem = check_lines(self.query_one(TextArea).text.splitlines())
        note = problem or f"{len(lines)} prompt{'s' if len(lines) != 1 else ''}; the first is the form's Prompt field."
        show_line(self.query_one("#prompts-note", Static), note, error=problem is not None)
        return lines, problem

    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._check()

    def action_apply(self) -> None:
        lines, problem = self._check()
        if problem is None:
            self.dismiss(lines)
