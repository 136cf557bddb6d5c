"""The Compare form's prompt list (^e opens prompt_list.py's dialog; the first prompt stays the
Prompt field, the rest are kept beside the form) and its rows checkbox (epochs, or the sweep's
variants: the Epochs field follows while it holds the other one's default)."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from tui_lora.tui.compare import compare_form


class PromptActions:
    """Mixed into the Compare screen (which has ``extra``, ``_defaults``, ``_check`` and ``query_one``)."""

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        # (A handler by name: textual's @on needs the class to be a widget, and this is a mixin.)
        if event.checkbox.id != "variants":
            return
        field = self.query_one("#epochs", Input)  # type: ignore[attr-defined]
        if event.value and field.value == self._defaults["epochs"]:  # type: ignore[attr-defined]
            field.value = compare_form.SWEEP_EPOCHS
        elif not event.value and field.value == compare_form.SWEEP_EPOCHS:
            field.value = self._defaults["epochs"]  # type: ignore[attr-defined]
        self._check()  # type: ignore[attr-defined]

    def action_prompts(self) -> None:
        from tui_lora.tui.compare.prompt_list import PromptListDialog

        prompts = [self.query_one("#prompt", Input).value, *self.extra]  # type: ignore[attr-defined]
        self.app.push_screen(PromptListDialog([p for p in prompts if p.strip()]),  # type: ignore[attr-defined]
                             self._prompts_chosen)

    def _prompts_chosen(self, prompts: list[str] | None) -> None:
        if not prompts:
            return
        self.extra = prompts[1:]
        field = self.query_one("#prompt", Input)  # type: ignore[attr-defined]
        if field.value != prompts[0]:
            field.value = prompts[0]  # Input.Changed checks the form
        else:
            self._check()  # type: ignore[attr-defined]
