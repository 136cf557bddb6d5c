"""Crop dialog of the Review step: aspect (1:1, 2:3, 3:2), how to frame (focus, centre, pad) and the
short side in pixels, for the marked images or the one under the cursor. The cropping itself is
core's (core/dataset/crop.py): the originals go to the trash, so u undoes it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Select, Static

from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, text_input

ASPECTS = (("1:1 square", "1:1"), ("2:3 portrait", "2:3"), ("3:2 landscape", "3:2"))
MODES = (("focus: keep the most detailed part", "focus"), ("center: cut both sides equally", "center"),
         ("pad: cut nothing, fill with white", "pad"))
MIN_SIZE, MAX_SIZE = 64, 4096


class CropDialog(Dialog):
    """Dismisses with (aspect, size, mode), or None."""

    TITLE_TEXT = "Crop"
    KEYS_TEXT = "tab next field · enter in Size or ^s crops · esc cancel"

    def __init__(self, names: list[str], resolution: int, buckets: bool, aspect: str = "1:1") -> None:
        super().__init__()
        self.names, self.resolution, self.buckets, self.aspect = names, resolution, buckets, aspect

    def compose_dialog(self) -> ComposeResult:
        what = self.names[0] if len(self.names) == 1 else f"the {len(self.names)} marked images"
        why = ("Aspect-ratio buckets are on, so training already takes any shape; crop only to choose the framing."
               if self.buckets else "Buckets are off, so every image is trained at one shape: crop them to it.")
        yield Static(f"Crop {what} in place; each original is kept in the trash (u undoes it). {why}",
                     classes="dialog-text", markup=False)
        yield Field("Aspect", Select(ASPECTS, id="crop-aspect", compact=True, allow_blank=False, value=self.aspect),
                    label_width=8)
        yield Field("Framing", Select(MODES, id="crop-mode", compact=True, allow_blank=False, value="focus"),
                    label_width=8)
        yield Field("Size", text_input("crop-size", str(self.resolution), numeric=True),
                    hint="the short side in pixels (the project's resolution)", label_width=8)

    def on_mount(self) -> None:
        self.query_one("#crop-aspect", Select).focus()

    def action_apply(self) -> None:
        field = self.query_one("#field-crop-size", Field)
        text = self.query_one("#crop-size", Input).value.strip()
        try:
            size = int(text)
        except ValueError:
            size = 0
        if not MIN_SIZE <= size <= MAX_SIZE:
            field.set_note(f"{text or 'Nothing'} is not a size from {MIN_SIZE} to {MAX_SIZE} pixels; e.g. "
                           f"{self.resolution}.", "error")
            return
        self.dismiss((str(self.query_one("#crop-aspect", Select).value), size,
                      str(self.query_one("#crop-mode", Select).value)))
