"""The Train step's sweep form: which settings to vary and their values (up to three), the planner's
total for the whole sweep as they are typed, and the variants' labels. Enter or ^s starts it, esc
cancels; it dismisses with the ``section.key=v1,v2`` texts (or None). The checks are the sweep's own
(core.sweep), so what the form accepts the sweep accepts."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static

from tui_lora.core.errors import UserError
from tui_lora.tui.common.dialog import Dialog
from tui_lora.tui.common.field import Field, show_line, text_input
from tui_lora.tui.common.fixes import say

ROWS = 3
SUGGESTED = (("training.unet_lr", "1e-4,5e-4,1e-3"), ("network.network_dim", "8,16"), ("", ""))


@dataclass
class SweepCheck:
    varies: list[str] = field(default_factory=list)  # section.key=v1,v2 for the sweep, when nothing is wrong
    errors: dict[int, str] = field(default_factory=dict)  # row → sentence
    summary: str = ""  # the planner's total, or why there is none
    count: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.varies)


def check_rows(project, rows: list[tuple[str, str]]) -> SweepCheck:
    """Each filled row as a --vary, then the whole sweep through the planner. No textual."""
    from tui_lora.core.humanize import duration
    from tui_lora.core.sweep import parse_varies
    from tui_lora.core.sweep.plan import plan_sweep
    from tui_lora.core.sweep.spec import MAX_VARIANTS, count_variants, parse_vary

    out = SweepCheck()
    for n, (key, values) in enumerate(rows):
        key, values = key.strip(), values.strip()
        if not key and not values:
            continue
        if not key:
            out.errors[n] = "Name the setting, e.g. training.unet_lr."
            continue
        if not values:
            out.errors[n] = "List its values separated by commas, e.g. 1e-4,5e-4."
            continue
        text = f"{key}={values}"
        try:
            parse_vary(text)
        except UserError as exc:
            out.errors[n] = say(exc, "train", placed=False)  # beside its row: not "--vary …:"
            continue
        out.varies.append(text)
    if out.errors:
        out.summary = "Fix the row marked in red."
        return out
    if not out.varies:
        out.summary = "Name at least one setting and its values."
        return out
    try:
        varies = parse_varies(out.varies)
        out.count = count_variants(varies)
        if out.count > MAX_VARIANTS:
            raise UserError(f"That makes {out.count} variants, more than {MAX_VARIANTS}; vary fewer values.")
        plan = plan_sweep(project, varies)
    except UserError as exc:
        out.errors[len(rows)] = out.summary = say(exc, "train", placed=False)
        return out
    time = f", about {duration(plan.seconds)}" if plan.seconds is not None else ""
    labels = ", ".join(v.label for v, _p in plan.variants[:4]) + (" …" if len(plan.variants) > 4 else "")
    out.summary = f"{out.count} variants, {plan.total_steps} steps in all{time}: {labels}"
    return out


class SweepDialog(Dialog):
    TITLE_TEXT = "Sweep: train variants of the settings and compare them"
    KEYS_TEXT = "enter / ^s start the sweep · tab next field · esc cancel"

    DEFAULT_CSS = """
    SweepDialog #dialog {
        width: 78;
    }
    SweepDialog .sweep-row {
        height: auto;
    }
    SweepDialog #sweep-total {
        height: auto;
        color: $text-muted;
    }
    SweepDialog #sweep-total.-error {
        color: $error;
    }
    """

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self.result = SweepCheck()

    def compose_dialog(self) -> ComposeResult:
        yield Static("Every combination of the values trains as a variant with its own files in output/sweep/; "
                     "then 7 Compare shows them side by side.", classes="dialog-dim", markup=False)
        for n, (key, values) in enumerate(SUGGESTED[:ROWS]):
            with Horizontal(classes="sweep-row"):
                yield Field("Setting", text_input(f"sweep-key-{n}", key, placeholder="section.key"), label_width=8)
                yield Field("Values", text_input(f"sweep-values-{n}", values, placeholder="v1,v2"), label_width=7)
        yield Static("", id="sweep-total", markup=False)

    def on_mount(self) -> None:
        self.query_one("#sweep-key-0", Input).focus()
        self._check()

    def rows(self) -> list[tuple[str, str]]:
        return [(self.query_one(f"#sweep-key-{n}", Input).value, self.query_one(f"#sweep-values-{n}", Input).value)
                for n in range(ROWS)]

    def _check(self) -> SweepCheck:
        self.result = check_rows(self.project, self.rows())
        for n in range(ROWS):
            field = self.query_one(f"#field-sweep-values-{n}", Field)
            field.set_note(self.result.errors.get(n, ""), "error" if n in self.result.errors else "")
        show_line(self.query_one("#sweep-total", Static), self.result.summary, error=not self.result.ok)
        return self.result

    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()

    def action_apply(self) -> None:
        result = self._check()
        if result.ok:
            self.dismiss(result.varies)
