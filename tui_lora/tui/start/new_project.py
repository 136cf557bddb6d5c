"""New project: folder, name, preset, base model (family detected as you type), trigger word."""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Select, Static
from textual.worker import Worker, get_current_worker

from tui_lora.core.errors import UserError
from tui_lora.core.models import DEFAULT_BASE_MODELS, ModelInfo, inspect_model
from tui_lora.core.presets import Preset, list_presets
from tui_lora.core.project import Project, family_label
from tui_lora.tui.common.base import NO_PROJECT_KEYS, WizardScreen
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.format import resolve_user_path, short_path
from tui_lora.tui.common.fixes import say

INSPECT_DELAY_S = 0.25  # wait for a pause in typing before reading the disk


class NewProjectScreen(WizardScreen):
    """Pushed over the start screen; dismisses with the created Project (or None)."""

    STEP_ID = None
    HELP_TITLE = "New project"
    HELP_INTRO = ("Creates the project folder with project.toml (from the preset) and an empty "
                  "dataset/<repeats>_<trigger>/ folder for your images. Nothing is written until you "
                  "press Create, and nothing is left behind if it fails.")
    HELP_ITEMS = ("folder", "name", "preset", "base_model", "trigger")

    DEFAULT_CSS = """
    NewProjectScreen #new-form {
        height: 1fr;
        padding: 0 1;
    }
    NewProjectScreen #new-error {
        color: $error;
        height: auto;
        padding: 0 1;
    }
    NewProjectScreen #new-buttons {
        height: 1;
        padding: 0 1;
        margin-top: 1;
    }
    NewProjectScreen #new-buttons Button {
        margin-right: 2;
    }
    """

    BINDINGS = [
        *NO_PROJECT_KEYS,
        Binding("ctrl+s", "create", "Create", priority=True),
        Binding("escape", "back", "Cancel"),
    ]

    class ModelInspected(Message):
        def __init__(self, ref: str, info: ModelInfo | None, error: str | None) -> None:
            super().__init__()
            self.ref, self.info, self.error = ref, info, error

    def __init__(self) -> None:
        super().__init__()
        self.presets: list[Preset] = list_presets()
        self.model_info: ModelInfo | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("New project", classes="screen-title")
        first = self.presets[0] if self.presets else None
        with VerticalScroll(id="new-form"):
            yield Field("Folder", text_input("folder", placeholder="e.g. ~/loras/marisa"),
                        hint="a new or empty folder")
            yield Field("Name", text_input("name", placeholder="empty: the folder's name"))
            yield Field("Preset", Select([(p.name, p.name) for p in self.presets], id="preset", compact=True,
                                         allow_blank=False, value=first.name if first else Select.BLANK),
                        hint=first.description if first else "no presets found")
            yield Field("Base model", text_input("base_model", DEFAULT_BASE_MODELS[first.family if first else "sd15"]))
            yield Field("Trigger word", text_input("trigger", placeholder="e.g. ohwx"),
                        hint="a rare word that will call up your subject in prompts")
            yield Static("", id="new-error", markup=False)
            with Horizontal(id="new-buttons"):
                yield Button("Create ^s", id="create", variant="primary", compact=True)
                yield Button("Cancel esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#folder", Input).focus()
        self.inspect(self.query_one("#base_model", Input).value)

    # ----- live feedback ---------------------------------------------------------------------------
    def _field(self, control_id: str) -> Field:
        return self.query_one(f"#field-{control_id}", Field)

    @on(Input.Changed, "#folder")
    def _folder_changed(self, event: Input.Changed) -> None:
        field = self._field("folder")
        if not event.value.strip():
            field.set_note()
            return
        path = resolve_user_path(event.value)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            field.set_note(f"{short_path(path)} exists and is not empty; choose a new folder.", "error")
        elif not path.parent.is_dir():
            field.set_note(f"{short_path(path.parent)} does not exist; create it first.", "error")
        else:
            field.set_note(f"creates {short_path(path)}")

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        preset = self.preset
        if preset is None:
            return
        self._field("preset").set_note(preset.description)
        base = self.query_one("#base_model", Input)
        if base.value.strip() in ("", *DEFAULT_BASE_MODELS.values()):
            base.value = DEFAULT_BASE_MODELS[preset.family]  # follow the preset while untouched
        self._show_model()

    @on(Input.Changed, "#base_model")
    def _model_changed(self, event: Input.Changed) -> None:
        self.inspect(event.value)

    @on(Input.Changed, "#trigger")
    def _trigger_changed(self, event: Input.Changed) -> None:
        t = event.value
        field = self._field("trigger")
        if t and ("," in t or "/" in t or t != t.strip()):
            field.set_note("No commas, slashes or outer spaces: one rare word such as ohwx.", "error")
        else:
            field.set_note()

    @property
    def preset(self) -> Preset | None:
        value = self.query_one("#preset", Select).value
        return next((p for p in self.presets if p.name == value), None)

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def inspect(self, ref: str) -> None:
        time.sleep(INSPECT_DELAY_S)
        if get_current_worker().is_cancelled:
            return  # the user typed on; a newer worker reads the newer text
        try:
            info, error = inspect_model(ref), None
        except UserError as exc:
            info, error = None, say(exc)
        self.post_message(self.ModelInspected(ref, info, error))

    def on_new_project_screen_model_inspected(self, message: ModelInspected) -> None:
        if message.ref != self.query_one("#base_model", Input).value:
            return  # stale answer
        self.model_info = message.info
        self._show_model(message.error)

    def _show_model(self, error: str | None = None) -> None:
        field, info, preset = self._field("base_model"), self.model_info, self.preset
        if error:
            field.set_note(error, "error")
            return
        if info is None:
            field.set_note()
            return
        if info.family is None:
            note = "family not known from the name; the preset's family is assumed"
            field.set_note(note + (f" ({family_label(preset.family)})" if preset else ""))
            return
        how = {"folder": "read from the model folder", "file": "read from the checkpoint"}.get(
            info.kind, "guessed from the repo name, checked when downloaded")
        if preset and info.family != preset.family and info.detected:
            field.set_note(f"This is an {family_label(info.family)} model but the preset is for "
                           f"{family_label(preset.family)}; choose a {info.family}-* preset.", "error")
            return
        vpred = " · v-prediction" if info.v_prediction else ""
        field.set_note(f"{family_label(info.family)}{vpred} ({how})", "ok")

    # ----- create ----------------------------------------------------------------------------------
    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        folder = self.query_one("#folder", Input).value
        if not folder.strip():
            self._error("Type a folder for the project, e.g. ~/loras/marisa.")
            self.query_one("#folder", Input).focus()
            return
        preset = self.preset
        if preset is None:
            self._error("No preset is available; check the presets folder of the installation.")
            return
        self._error("")
        self.create(resolve_user_path(folder), preset.name, self.query_one("#base_model", Input).value,
                    self.query_one("#trigger", Input).value, self.query_one("#name", Input).value.strip() or None)

    @work(thread=True, exclusive=True, group="create", exit_on_error=False)
    def create(self, root: Path, preset: str, base_model: str, trigger: str, name: str | None) -> Project:
        return Project.create(root, preset=preset, base_model=base_model, trigger=trigger, name=name)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "create" and event.state.name == "SUCCESS":
            self.dismiss(event.worker.result)

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        if worker.group == "create" and isinstance(error, UserError):
            self._error(say(error))
            return True
        return False

    def _error(self, text: str) -> None:
        self.query_one("#new-error", Static).update(text)

    @on(Button.Pressed, "#cancel")
    def action_back(self) -> None:
        self.dismiss(None)
