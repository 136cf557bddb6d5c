"""The Compare step: render a list of prompts with several seeds for every saved epoch (or every
variant of the project's sweep) at several LoRA weights, look at the grid in the terminal one prompt ×
seed at a time or all side by side, zoom into a cell, and keep the winner as
output/<name>-best.safetensors (pick_actions.py; a variant's settings can go into project.toml too).

Rendering runs `tui-lora compare … --json --progress-json` in a child process (compare_child.py)
from a thread worker, so torch never loads here; esc sends it SIGTERM, which the command turns into
a clean cancel (no grid written) (render_actions.py). Picking runs `compare --pick` the same way. A
finished grid is read back from its JSON index (compare_grids.py), and earlier grids are listed to
reopen (grid_actions.py, which also shows a grid and zooms into it).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, ContentSwitcher, Input, OptionList, Static

from tui_lora.core.compare import list_epoch_files
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.edit_key import EditFieldsKey, edit_bindings
from tui_lora.tui.common.field import Field, FieldInput, show_line, text_input
from tui_lora.tui.common.format import short_path
from tui_lora.tui.compare import compare_form
from tui_lora.tui.compare.compare_child import Child
from tui_lora.tui.compare.compare_grid import CompareGridView
from tui_lora.tui.compare.compare_grids import GridInfo
from tui_lora.tui.compare.export_actions import ExportActions
from tui_lora.tui.compare.grid_actions import GridActions
from tui_lora.tui.compare.pick_actions import PickActions
from tui_lora.tui.compare.prompt_actions import PromptActions
from tui_lora.tui.compare.render_actions import RenderActions


class CompareScreen(RenderActions, GridActions, PickActions, PromptActions, ExportActions, EditFieldsKey,
                    WizardScreen):
    STEP_ID = "compare"
    HELP_TITLE = "Compare"
    HELP_INTRO = ("Renders the prompts with each saved epoch (rows) at several LoRA weights (columns), next to "
                  "the base model without the LoRA, every prompt with every seed, so the only difference between "
                  "cells is the LoRA: a lucky or unlucky seed hides real faults. ^e edits the list of prompts; "
                  "after a sweep (6 Train, w) the rows can be its variants instead, labelled with their values. "
                  "^r renders (in a separate process; esc cancels and writes nothing). In the grid the arrows "
                  "move, n flips through the prompts and seeds, a shows them all side by side, z or enter zooms "
                  "into a cell, and p keeps that epoch (or variant) as output/<name>-best.safetensors, with what "
                  "won in the file's metadata. e exports the winner (else the final file) into ComfyUI, AUTOMATIC1111 "
                  "or Forge, or a folder, and gives the <lora:NAME:WEIGHT> to paste. Grids are saved in "
                  "output/samples/ and listed here to reopen.")
    HELP_ITEMS = ("compare_prompt", "compare_epochs", "compare_weights", "compare_seed", "compare_pick")

    DEFAULT_CSS = """
    CompareScreen #compare-panes, CompareScreen #form-pane, CompareScreen #grid-pane {
        height: 1fr;
    }
    CompareScreen #compare-form {
        height: auto;
        padding: 0 1;
    }
    CompareScreen #compare-form > Horizontal {
        height: auto;
    }
    CompareScreen #compare-empty {
        height: auto;
        padding: 1 1;
    }
    CompareScreen #compare-status {
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    CompareScreen #compare-status.-error {
        color: $error;
    }
    CompareScreen #compare-grids {
        height: 1fr;
        min-height: 3;
        margin: 0 1;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
    }
    CompareScreen #compare-grids:focus {
        border: round $primary;
    }
    CompareScreen #grid-title, CompareScreen #grid-cell {
        height: 1;
    }
    CompareScreen #grid-pane {
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Fewer step keys in the footer, so the grid's own keys (n, a, z, p) fit at 80 columns.
        Binding("ctrl+p", "app.step(-1)", "Prev step", priority=True, show=False),
        Binding("ctrl+n", "app.step(1)", "Next step", priority=True, show=False),
        Binding("ctrl+r", "render", "Render", priority=True),
        Binding("ctrl+e", "prompts", "Prompts", priority=True),
        # A subclass's key replaces the base's: every escape is listed; check_action picks one.
        Binding("escape", "back", "Back"),
        Binding("escape", "cancel", "Cancel render"),
        Binding("escape", "close_grid", "Form"),
        Binding("z,enter", "zoom", "Zoom"),
        Binding("p", "pick", "Pick winner"),
        Binding("e", "export", "Export"),
        *edit_bindings("Edit fields"),
    ]
    FIRST_FIELD = "#prompt"

    def __init__(self) -> None:
        super().__init__()
        self.files = list_epoch_files(self.project)
        self._defaults = compare_form.defaults(self.project, self.files)
        remembered = compare_form.remembered(self.project)
        self._start = self._defaults | remembered  # what the fields open with
        self._trigger = self.project.settings["project"]["trigger_word"] or ""
        self.sweep = compare_form.has_sweep(self.project)
        if self.sweep and not self.files and not self._start["epochs"]:
            self._start["epochs"] = compare_form.SWEEP_EPOCHS  # the rows can only be the variants
        more = remembered.get(compare_form.EXTRA_KEY)
        self.extra = more.splitlines() if more is not None else compare_form.default_extra(self.project)
        self.rendering = False
        self._child: Child | None = None
        self._grids: list[GridInfo] = []

    # ----- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        d = self._start
        yield Static("Compare epochs and weights", classes="screen-title", id="compare-title", markup=False)
        with ContentSwitcher(initial="form-pane", id="compare-panes"):
            with Vertical(id="form-pane"):
                yield Static("", id="compare-empty", markup=False)
                with Vertical(id="compare-form"):
                    yield Field("Prompt", FieldInput(d["prompt"], id="prompt", compact=True, select_on_focus=False),
                                label_width=10)
                    yield Field("Negative", text_input("negative", d["negative"], placeholder="optional"),
                                label_width=10)
                    with Horizontal():
                        yield Field("Epochs", text_input("epochs", d["epochs"], placeholder="all saved"),
                                    label_width=10)
                        yield Field("Weights", text_input("weights", d["weights"]), label_width=9)
                    with Horizontal():
                        yield Field("Seeds", text_input("seed", d["seed"], numeric=True), label_width=10)
                        yield Field("Steps", text_input("steps", d["steps"], numeric=True), label_width=9)
                    if self.sweep:
                        yield Checkbox("Rows: the sweep's variants (Epochs then means theirs; final by default)",
                                       not self.files, id="variants", compact=True)
                yield Static("", id="compare-status", markup=False)
                yield OptionList(id="compare-grids")
            with Vertical(id="grid-pane"):
                yield Static("", id="grid-title", markup=False)
                yield CompareGridView(id="grid")
                yield Static("", id="grid-cell", markup=False)

    @property
    def grid_view(self) -> CompareGridView:
        return self.query_one("#grid", CompareGridView)

    @property
    def showing_grid(self) -> bool:
        return self.query_one("#compare-panes", ContentSwitcher).current == "grid-pane"

    def on_mount(self) -> None:
        self.query_one("#compare-grids").border_title = "earlier grids (enter reopens)"
        self._files_changed()

    def on_screen_resume(self) -> None:
        self._follow_trigger()
        files = list_epoch_files(self.project)
        if files != self.files:
            # New epochs since: fields still holding the old defaults follow the new ones.
            new = compare_form.defaults(self.project, files)
            for name in compare_form.FIELDS:
                field = self.query_one(f"#{name}", Input)
                if field.value == self._defaults[name]:
                    field.value = new[name]
            self.files, self._defaults = files, new
        self._files_changed()

    def _follow_trigger(self) -> None:
        """The trigger word changed on Tags meanwhile: the prompt says the new one (the defaults follow
        the sample prompts, which changed with it)."""
        trigger = self.project.settings["project"]["trigger_word"] or ""
        if trigger == self._trigger:
            return
        from tui_lora.core.sample_prompts import swap_trigger

        field = self.query_one("#prompt", Input)
        field.value = swap_trigger(field.value, self._trigger, trigger)
        self.extra = [swap_trigger(line, self._trigger, trigger) for line in self.extra]
        self._defaults = compare_form.defaults(self.project, self.files)
        self._trigger = trigger

    def commit(self) -> None:
        if self.is_mounted and (self.files or self.sweep):
            compare_form.remember(self.project, self._values(), self.extra)

    def on_unmount(self) -> None:
        if self._child is not None:
            self._child.cancel()  # leaving the wizard never leaves a renderer running

    def _files_changed(self) -> None:
        empty = not self.files and not self.sweep
        self.query_one("#compare-empty", Static).update(
            "" if not empty else f"No LoRA files are saved in {short_path(self.project.output_dir)} yet: train first "
                                 "(6 Train); each saved epoch becomes a row of the comparison.")
        self.query_one("#compare-empty").display = empty
        for selector in ("#compare-form", "#compare-status", "#compare-grids"):
            widget = self.query_one(selector)
            widget.display = not empty
            widget.disabled = empty  # a hidden input that kept the focus would swallow the step keys
        if not empty:
            self._check()
            self._list_grids()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        grid = self.showing_grid
        if action == "back":
            return not self.rendering and not grid
        if action == "cancel":
            return self.rendering
        if action in ("close_grid", "zoom", "pick"):
            return grid
        if action == "render":
            return bool(self.files or self.sweep) and not self.rendering and not grid
        if action == "export":
            return bool(self.files) and not self.rendering
        if action == "edit_fields":
            return not self.rendering and not grid and self.edit_fields_allowed()
        if action == "prompts":
            return bool(self.files or self.sweep) and not self.rendering and not grid and not isinstance(
                self.app.screen, ModalScreen)
        return True

    # ----- the form ------------------------------------------------------------------------------
    def _values(self) -> dict[str, str]:
        return {name: self.query_one(f"#{name}", Input).value for name in compare_form.FIELDS}

    @property
    def variants(self) -> bool:
        """The rows are the sweep's variants (the checkbox)."""
        return self.sweep and self.query_one("#variants", Checkbox).value

    def _check(self) -> compare_form.FormCheck:
        result = compare_form.check(self.project, self._values(), self.files, extra=self.extra,
                                    variants=self.variants)
        for name in compare_form.FIELDS:
            field = self.query_one(f"#field-{name}", Field)
            if name in result.errors:
                field.set_note(result.errors[name], "error")
            else:
                field.set_note(result.notes.get(name, ""))
        if not self.rendering:
            status = self.query_one("#compare-status", Static)
            if result.ok and result.per_cell > 1:
                rows = "variants" if self.variants else "epochs"
                show_line(status, f"{result.cells} images (no LoRA + {rows} × weights, {result.per_cell} prompt × "
                                  "seed pictures each); ^r renders the grid.")
            elif result.ok:
                show_line(status, f"{result.cells} images (no LoRA + epochs × weights); ^r renders the grid.")
            else:
                show_line(status, "Fix the field marked in red to render.", error=True)
        return result

    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()

    # ----- earlier grids (listed by grid_actions.py; an @on handler must live on the screen's class) -----
    @on(OptionList.OptionSelected, "#compare-grids")
    def _reopen(self, event: OptionList.OptionSelected) -> None:
        chosen = next((g for g in self._grids if str(g.index) == event.option.id), None)
        if chosen is not None:
            self.open_grid(chosen)
