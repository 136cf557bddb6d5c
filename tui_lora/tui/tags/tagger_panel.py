"""The tagger's settings: which tagger (WD14 booru tags or BLIP sentences), its model (repo id or
local folder), WD14's two thresholds, and the run mode.

Tagger, model and thresholds are the project's ``[tags]`` settings: valid values go into the
project as you type and are saved to project.toml when you leave the field; an invalid one shows
its sentence under the field and is not saved. The mode is chosen per run.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Select, Static

from tui_lora.core.errors import UserError
from tui_lora.core.tagging.blip import DEFAULT_BLIP_MODEL
from tui_lora.core.tagging.wd14 import DEFAULT_WD14_MODEL
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.fixes import say

KEYS = {"tag_model": "tags.tagger_model", "threshold": "tags.threshold", "char_threshold": "tags.character_threshold"}
MODES = (("overwrite", "overwrite"), ("append", "append"), ("missing only", "missing"))
BACKENDS = (("WD14 · tags", "wd14"), ("BLIP · sentences", "blip"))
DEFAULT_MODELS = {"wd14": DEFAULT_WD14_MODEL, "blip": DEFAULT_BLIP_MODEL}


class TaggerPanel(Vertical):
    DEFAULT_CSS = """
    TaggerPanel {
        height: auto;
    }
    TaggerPanel .panel-title {
        text-style: bold;
    }
    """

    def __init__(self, project, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.project = project
        self.dirty = False

    def compose(self) -> ComposeResult:
        p = self.project
        yield Static("Auto-tag (r)", classes="panel-title")
        yield Field("Tagger", Select(BACKENDS, id="tagger_backend", compact=True, allow_blank=False,
                                     value=self.backend), label_width=8)
        yield Field("Model", text_input("tag_model", p.get("tags.tagger_model"),
                                        placeholder=DEFAULT_MODELS[self.backend]), label_width=8)
        yield Field("Tags ≥", text_input("threshold", f"{p.get('tags.threshold'):g}", numeric=True), label_width=8)
        yield Field("Names ≥", text_input("char_threshold", f"{p.get('tags.character_threshold'):g}", numeric=True),
                    label_width=8)
        yield Field("Mode", Select(MODES, id="tag_mode", compact=True, allow_blank=False, value="overwrite"),
                    label_width=8)

    def on_mount(self) -> None:
        self._show_backend()

    @property
    def mode(self) -> str:
        return str(self.query_one("#tag_mode", Select).value)

    @property
    def backend(self) -> str:
        return str(self.project.get("tags.tagger"))

    @property
    def model(self) -> str:
        return self.project.get("tags.tagger_model") or DEFAULT_MODELS[self.backend]

    @on(Select.Changed, "#tagger_backend")
    def _backend_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value != self.backend:
            self.project.set("tags.tagger", event.value)
            self.dirty = True
            self.commit()
            self._show_backend()

    def _show_backend(self) -> None:
        """BLIP writes sentences, not scored tags: the two confidence thresholds do not apply to it."""
        wd14 = self.backend == "wd14"
        self.query_one("#tag_model", Input).placeholder = DEFAULT_MODELS[self.backend]
        for field_id in ("#field-threshold", "#field-char_threshold"):
            self.query_one(field_id).display = wd14

    @property
    def error(self) -> str | None:
        return next((f.error for f in self.query(Field) if f.error and f.display), None)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        dotted = KEYS.get(event.input.id or "")
        if dotted is None:
            return
        event.stop()
        field = self.query_one(f"#field-{event.input.id}", Field)
        value = event.value.strip()
        try:
            if str(self.project.get(dotted)) != value:
                self.project.set_text(dotted, value)
                self.dirty = True
        except UserError as exc:
            field.set_note(say(exc, "tags", placed=False), "error")  # beside the field: not "project.toml:"
        else:
            field.set_note()

    @on(Input.Submitted)
    @on(Input.Blurred)
    def commit(self) -> None:
        if self.dirty:
            self.project.save()
            self.dirty = False
