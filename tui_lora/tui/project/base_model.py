"""Change the project's base model: a Hugging Face repo id, a diffusers folder or a single checkpoint
file, checked as `tui-lora new` checks it (the family read from the model where it can be), so a
wrong path or a model of the other family is said here, not when training starts."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static

from tui_lora.core.errors import UserError
from tui_lora.core.models import check_base_model
from tui_lora.core.project import family_label
from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.fixes import say


def describe(info) -> str:
    how = {"folder": "read from the model folder", "file": "read from the checkpoint"}.get(
        info.kind, "guessed from the repo name, checked when it is downloaded")
    if info.family is None:
        return "family not known from the name; the project's is assumed"
    return f"{family_label(info.family)}{' · v-prediction' if info.v_prediction else ''} ({how})"


class BaseModelDialog(Dialog):
    """Dismisses with the new reference (checked), or None."""

    TITLE_TEXT = "Base model"
    KEYS_TEXT = "enter use it · esc cancel · F1 help"
    HELP_TEXT = ("The model the LoRA is trained on, and the one it works best with afterwards. A Hugging Face "
                 "repo id (downloaded on first use), a folder with model_index.json (diffusers), or one "
                 ".safetensors checkpoint file (what A1111 and ComfyUI use). Its family must be the project's: "
                 "resolution and learning rates are set for it.")

    def __init__(self, current: str, family: str) -> None:
        super().__init__()
        self.current, self.family = current, family

    def compose_dialog(self) -> ComposeResult:
        yield Static(f"A repo id, a diffusers folder or a .safetensors file of an {family_label(self.family)} "
                     "model. It is checked as you type; enter saves it in project.toml.", classes="dialog-text",
                     markup=False)
        yield Field("Model", text_input("base-model", self.current, placeholder="e.g. ~/models/anything.safetensors"),
                    label_width=7)

    def on_mount(self) -> None:
        self.query_one("#base-model", Input).focus()
        self._check(self.current)

    @on(Input.Changed, "#base-model")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, ref: str) -> bool:
        field = self.query_one("#field-base-model", Field)
        try:
            info = check_base_model(ref, self.family)
        except UserError as exc:
            field.set_note(say(exc, "project"), "error")
            return False
        field.set_note(describe(info), "ok")
        return True

    def action_apply(self) -> None:
        ref = self.query_one("#base-model", Input).value.strip()
        if self._check(ref):
            self.dismiss(ref)
