"""The Steps step: repeats, epochs, batch, dim, alpha, learning rates and optimizer, with the step
arithmetic, warnings, VRAM and the difference from the preset updating as you type.

Typing changes the project in memory (valid values only); leaving a field, pressing enter,
or leaving the screen writes project.toml (and renames dataset/<N>_<name>/ for repeats).
An invalid value shows its one-sentence error under the field and is never saved.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Select, Static

from tui_lora.core.dataset.folders import Concept
from tui_lora.core.errors import UserError
from tui_lora.core.gpu import GpuReport, detect_gpus
from tui_lora.core.plan import FolderCount, Plan, model_info, plan_for_project, plan_from_settings
from tui_lora.core.presets import load_preset
from tui_lora.core.project import validate
from tui_lora.core.registry import networks, optimizers
from tui_lora.core.settings import Settings
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.edit_key import EditFieldsKey, edit_bindings
from tui_lora.tui.common.field import Field, FieldSelect, text_input
from tui_lora.tui.common.fixes import say
from tui_lora.tui.steps.plan_view import PlanView
from tui_lora.tui.steps.repeats import parse_repeats, set_repeats

# (input id, settings key, label): the knobs the guides tell beginners to look at.
EDITABLE = (
    ("epochs", "training.max_train_epochs", "Epochs"),
    ("batch", "training.train_batch_size", "Batch size"),
    ("dim", "network.network_dim", "Dim (rank)"),
    ("alpha", "network.network_alpha", "Alpha"),
    ("unet_lr", "training.unet_lr", "UNet LR"),
    ("te_lr", "training.text_encoder_lr", "Text enc. LR"),
)
OPTIMIZER_KEY = "training.optimizer_type"
NETWORK_KEYS = ("network.network_type", "network.dora")
LIVE_KEYS = (*(k for _, k, _ in EDITABLE), OPTIMIZER_KEY, *NETWORK_KEYS)
LABEL_WIDTH = 13
# The Network choice sets two keys: the type, and DoRA where the type has it.
NETWORK_CHOICES: tuple[tuple[str, str, bool], ...] = tuple(
    (f"{name} + DoRA" if dora else name, name, dora)
    for name, entry in networks.NETWORKS.items() for dora in ((False, True) if entry.dora else (False,)))


def network_choice(network_type: str, dora: bool) -> str:
    """The Network select's value for a project's type and DoRA switch."""
    return f"{network_type} + DoRA" if dora and networks.get(network_type).dora else network_type


def format_value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class StepsScreen(EditFieldsKey, WizardScreen):
    STEP_ID = "steps"
    HELP_TITLE = "Steps"
    HELP_INTRO = ("Total steps = images × repeats × epochs ÷ batch decides how much the LoRA learns. "
                  "The right pane updates as you type: the arithmetic, the warnings (each with its fix), "
                  "the VRAM estimate against your GPU, and what differs from the preset. Valid values are "
                  "saved to project.toml when you leave a field; a value in red is not saved.")
    HELP_ITEMS = ("steps", "repeats", *(k for _, k, _ in EDITABLE), OPTIMIZER_KEY, *NETWORK_KEYS, "vram")
    BINDINGS = edit_bindings("Edit values")
    FIRST_FIELD = "#steps-fields Input"

    DEFAULT_CSS = """
    StepsScreen #steps-main {
        height: 1fr;
    }
    StepsScreen #steps-fields {
        width: 38;
        height: 1fr;
        padding: 0 1;
        border-right: vkey $panel-lighten-1;
    }
    StepsScreen #steps-plan {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
    }
    StepsScreen #steps-status {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    StepsScreen #steps-status.-error {
        color: $error;
    }
    """

    class GpuDetected(Message):
        def __init__(self, report: GpuReport) -> None:
            super().__init__()
            self.report = report

    def __init__(self) -> None:
        super().__init__()
        self.concepts: list[Concept] = self.project.concepts()
        self.image_counts = [len(c.images()) for c in self.concepts]
        self.pending_repeats: dict[int, int] = {}
        self.dirty = False
        self.plan: Plan | None = None
        # once: regularization images, the last run's speed and what the base model says about itself
        self._model = model_info(self.project.get("model.pretrained_model_name_or_path"))
        base = plan_for_project(self.project)
        self._reg_images, self._it_per_s = base.input.reg_images, base.input.it_per_s
        self._preset: tuple[int, Settings] | bool | None = None  # (repeats, settings), False if unreadable
        self._other_diff: list[tuple[str, object, object]] = []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.edit_fields_allowed() if action == "edit_fields" else True

    def compose_body(self) -> ComposeResult:
        images = sum(self.image_counts)
        yield Static(f"Steps & settings · {images} images", classes="screen-title", id="steps-title")
        with Horizontal(id="steps-main"):
            with VerticalScroll(id="steps-fields", can_focus=False):  # tab goes straight to the first field
                for i, c in enumerate(self.concepts):
                    label = "Repeats" if len(self.concepts) == 1 else f"× {c.name}"
                    yield Field(label, text_input(f"repeats-{i}", str(c.repeats), numeric=True),
                                label_width=LABEL_WIDTH)
                for input_id, dotted, label in EDITABLE:
                    yield Field(label, text_input(input_id, format_value(self.project.get(dotted)), numeric=True),
                                label_width=LABEL_WIDTH)
                yield Field("Optimizer", FieldSelect([(o, o) for o in optimizers.NAMES], id="optimizer", compact=True,
                                                allow_blank=False, value=self.project.get(OPTIMIZER_KEY)),
                            label_width=LABEL_WIDTH)
                current = network_choice(self.project.get("network.network_type"), self.project.get("network.dora"))
                yield Field("Network", FieldSelect([(label, label) for label, _, _ in NETWORK_CHOICES], id="network",
                                              compact=True, allow_blank=False, value=current),
                            label_width=LABEL_WIDTH)
            with VerticalScroll(id="steps-plan"):
                yield PlanView(id="plan")
        yield Static("", id="steps-status", markup=False)

    def on_mount(self) -> None:
        self._update_plan()
        self._status()
        if self.wizard.gpu_report is None:
            self.detect_gpu()

    def on_screen_resume(self) -> None:
        self._preset = None  # project.toml may have been edited meanwhile
        self.image_counts = [len(c.images()) for c in self.concepts]  # images may have been added meanwhile
        self.query_one("#steps-title", Static).update(f"Steps & settings · {sum(self.image_counts)} images")
        self._update_plan()

    def on_screen_suspend(self) -> None:
        self.commit()

    # ----- GPU ------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="gpu", exit_on_error=False)
    def detect_gpu(self) -> None:
        self.post_message(self.GpuDetected(detect_gpus()))

    def on_steps_screen_gpu_detected(self, message: GpuDetected) -> None:
        self.wizard.gpu_report = message.report
        self._update_plan()

    # ----- editing --------------------------------------------------------------------------------
    def _field(self, control_id: str) -> Field:
        return self.query_one(f"#field-{control_id}", Field)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        control_id = event.input.id or ""
        field = self._field(control_id)
        try:
            if control_id.startswith("repeats-"):
                i = int(control_id.removeprefix("repeats-"))
                n = parse_repeats(event.value)
                if n == self.concepts[i].repeats:
                    self.pending_repeats.pop(i, None)
                else:
                    self.pending_repeats[i] = n
            else:
                dotted = next(k for cid, k, _ in EDITABLE if cid == control_id)
                if format_value(self.project.get(dotted)) != event.value.strip():
                    self.project.set_text(dotted, event.value)
                    self.dirty = True
        except UserError as exc:
            field.set_note(say(exc, self.STEP_ID, placed=False), "error")  # the field says which setting
        else:
            field.set_note()
        self._update_plan()
        self._status()

    @on(Select.Changed, "#optimizer")
    def _optimizer(self, event: Select.Changed) -> None:
        if event.value != self.project.get(OPTIMIZER_KEY):
            self.project.set(OPTIMIZER_KEY, event.value)
            self.dirty = True
            self.commit()
            self._update_plan()

    @on(Select.Changed, "#network")
    def _network(self, event: Select.Changed) -> None:
        _, network_type, dora = next(c for c in NETWORK_CHOICES if c[0] == event.value)
        if (network_type, dora) != (self.project.get("network.network_type"), self.project.get("network.dora")):
            self.project.set("network.network_type", network_type)
            self.project.set("network.dora", dora)
            self.dirty = True
            self.commit()
            self._update_plan()

    @on(Input.Submitted)
    @on(Input.Blurred)
    def _leave_field(self) -> None:
        self.commit()

    def commit(self) -> None:
        """Save valid edits: project.toml, and repeats by renaming their folders."""
        for i, n in sorted(self.pending_repeats.items()):
            try:
                self.concepts[i] = set_repeats(self.project, self.concepts[i], n)
            except UserError as exc:
                self._field(f"repeats-{i}").set_note(say(exc, self.STEP_ID), "error")
            else:
                del self.pending_repeats[i]
        if self.dirty:
            self.project.save()
            self.dirty = False
        if self.is_mounted:
            self._update_plan()
            self._status()

    def _status(self) -> None:
        status = self.query_one("#steps-status", Static)
        bad = [f.label for f in self.query(Field) if f.error]
        if bad:
            status.update(f"✗ {', '.join(bad)}: not saved until fixed")
            status.add_class("-error")
        else:
            pending = self.dirty or self.pending_repeats
            status.update("editing… saved when you leave the field" if pending else "✓ saved in project.toml")
            status.remove_class("-error")

    # ----- the plan -------------------------------------------------------------------------------
    def _update_plan(self) -> None:
        folders = [FolderCount(c.folder, n, self.pending_repeats.get(i, c.repeats))
                   for i, (c, n) in enumerate(zip(self.concepts, self.image_counts))]
        self.plan = plan_from_settings(self.project.settings, folders, reg_images=self._reg_images,
                                       it_per_s=self._it_per_s, model=self._model)
        preset = self.project.settings["project"]["preset"]
        self.query_one(PlanView).show(self.plan, self.wizard.gpu_report, self._diff(), preset)

    def _diff(self) -> list[tuple[str, object, object]]:
        """What differs from the preset. Reading a preset takes ~0.1 s, too slow per keystroke: the
        preset is read once and the keys this screen edits are compared live."""
        if self._preset is None:
            self._preset = _read_preset(self.project.settings["project"]["preset"])
            self._other_diff = [d for d in self.project.diff_from_preset() if d[0] not in LIVE_KEYS]
        if self._preset is False:
            return []
        repeats, base = self._preset
        out: list[tuple[str, object, object]] = []
        for i, c in enumerate(self.concepts):
            n = self.pending_repeats.get(i, c.repeats)
            if n != repeats:
                out.append((f"repeats ({c.name})", repeats, n))
        for dotted in LIVE_KEYS:
            section, name = dotted.split(".")
            if base[section][name] != self.project.settings[section][name]:
                out.append((dotted, base[section][name], self.project.settings[section][name]))
        return out + self._other_diff


def _read_preset(name: str) -> tuple[int, Settings] | bool:
    if not name:
        return False
    try:
        preset = load_preset(name)
        return preset.repeats, validate(preset.document().unwrap())
    except UserError:
        return False

