"""Export the LoRA into a UI (e on Compare): where each UI was found, or a folder to type. Dismisses
with the ``--to`` value of `tui-lora export` ("comfyui", "a1111", "forge" or a folder)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui_lora.core.export import UIS, find_ui
from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.format import short_path

LINE_WIDTH = 70


class ExportDialog(Dialog):
    TITLE_TEXT = "Export the LoRA"
    KEYS_TEXT = "↑/↓ choose · enter export · tab to the folder field · esc cancel"
    HELP_TEXT = ("Copies the LoRA file into a UI's LoRA folder (ComfyUI models/loras, AUTOMATIC1111 and Forge "
                 "models/Lora) or into a folder you type, then shows the prompt snippet <lora:NAME:WEIGHT>. The "
                 "UIs are looked for where their folder variable (COMFYUI_PATH, A1111_PATH, FORGE_PATH) points, "
                 "then under the current folder, your home, /workspace and /opt. The copy is atomic and never "
                 "replaces a different file without asking. The same as tui-lora export DIR --to …")

    DEFAULT_CSS = """
    ExportDialog OptionList {
        height: auto;
    }
    """
    BINDINGS = [Binding("tab", "focus_next", show=False)]

    def __init__(self, file_name: str) -> None:
        super().__init__()
        self.file_name = file_name
        self.found: dict[str, Path | None] = {}
        self.looked: dict[str, list[str]] = {}
        for key in UIS:
            self.found[key], self.looked[key] = find_ui(key)

    def compose_dialog(self) -> ComposeResult:
        yield Static(f"Copy {self.file_name} to:", classes="dialog-text", markup=False)
        options = []
        for key, ui in UIS.items():
            where = self.found[key]
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(f"{ui.name:<14}", style="bold" if where else "dim")
            if where is not None:
                t.append(short_path(where / ui.lora_dir))
            else:
                t.append(f"not found (set {ui.env[0]})", style="dim")
            t.truncate(LINE_WIDTH, overflow="ellipsis")
            options.append(Option(t, id=key, disabled=where is None))
        yield OptionList(*options, id="export-uis", compact=True)
        yield Field("Folder", text_input("export-folder", placeholder="or type a folder, e.g. ~/loras"),
                    label_width=8)

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        first = next((i for i, key in enumerate(UIS) if self.found[key] is not None), None)
        if first is None:
            self.query_one("#export-folder", Input).focus()  # no UI here: the folder is the only choice
        else:
            picker.highlighted = first
            picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_id)

    def action_apply(self) -> None:
        folder = self.query_one("#export-folder", Input).value.strip()
        if folder:
            self.dismiss(folder)
            return
        picker = self.query_one(OptionList)
        if picker.highlighted is not None and self.found[list(UIS)[picker.highlighted]] is not None:
            self.dismiss(list(UIS)[picker.highlighted])
