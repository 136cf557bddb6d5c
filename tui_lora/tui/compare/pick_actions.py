"""Keeping the winner from the Compare grid: p picks the cell under the cursor (an epoch, or a sweep
variant's file) as output/<name>-best.safetensors through `tui-lora compare --pick` in a child process
(safetensors' torch loader stays out of the wizard), asking first when a -best file exists. A variant's
pick then offers to write the variant's settings into project.toml (core.compare.variants.adopt_variant,
through the project's validated save)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.message import Message

from tui_lora.core.compare import best_file
from tui_lora.tui.common.format import short_path
from tui_lora.tui.compare.compare_child import run_pick
from tui_lora.tui.compare.compare_grids import best_says


class Picked(Message):
    def __init__(self, result: dict) -> None:
        super().__init__()
        self.result = result


class PickActions:
    """Mixed into the Compare screen (which has ``grid_view``, ``project``, ``app``, ``notify``)."""

    def action_pick(self) -> None:
        cell = self.grid_view.current  # type: ignore[attr-defined]
        if cell is None:
            return
        if not cell.lora or cell.epoch is None:
            self.notify("The no-LoRA column is the base model alone; pick a cell with a weight.",
                        markup=False)  # type: ignore[attr-defined]
            return
        # A final file answers to its epoch number too (its ss_epoch), so LABEL:EPOCH finds it.
        pick = f"{cell.variant}:{cell.epoch}" if cell.variant else str(cell.epoch)
        what = f"variant {cell.variant}, epoch {cell.epoch}," if cell.variant else f"epoch {cell.epoch}"
        target = best_file(self.project)  # type: ignore[attr-defined]
        if not target.exists():
            self._pick(pick, what, cell.weight)
            return
        from tui_lora.tui.common.confirm import ConfirmScreen

        weight = cell.weight
        question = (f"{short_path(target)} already exists{best_says(target)}. Replace it with {what} at "
                    f"weight {weight:g}?")
        self.app.push_screen(ConfirmScreen(question, yes="Replace", no="Keep it"),  # type: ignore[attr-defined]
                             lambda yes: self._pick(pick, what, weight) if yes else None)

    def _pick(self, pick: str, what: str, weight: float) -> None:
        self.notify(f"Keeping {what} at weight {weight:g}…", markup=False)  # type: ignore[attr-defined]
        self.pick_worker(self.project.root, pick, weight)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="pick", exit_on_error=False)
    def pick_worker(self, root: Path, pick: str, weight: float) -> None:
        self.post_message(Picked(run_pick(root, pick, weight)))  # type: ignore[attr-defined]

    def on_picked(self, message: Picked) -> None:
        r = message.result
        path = Path(r["best"])
        what = f"variant {r['variant']}" if r.get("variant") else f"epoch {r['epoch']}"
        self.notify(f"Kept {what} at weight {r['weight']:g} as {path.name}. e exports it into "  # type: ignore[attr-defined]
                    f"ComfyUI, A1111 or Forge. In a prompt: <lora:{path.stem}:{r['weight']:g}>",
                    title="Winner saved", timeout=20, markup=False)
        if r.get("variant"):
            self._offer_adopt(r["variant"])

    def _offer_adopt(self, label: str) -> None:
        from tui_lora.core.sweep import read_manifest
        from tui_lora.tui.common.confirm import ConfirmScreen

        manifest = read_manifest(self.project)  # type: ignore[attr-defined]
        variant = manifest.variant(label) if manifest else None
        if variant is None:
            return
        question = (f"Also write variant {label}'s settings ({variant.describe()}) into project.toml, so the next "
                    "training uses them?")
        self.app.push_screen(ConfirmScreen(question, yes="Write them", no="Not now"),  # type: ignore[attr-defined]
                             lambda yes: self._adopt(variant) if yes else None)

    def _adopt(self, variant) -> None:
        from tui_lora.core.compare.variants import adopt_variant
        from tui_lora.core.errors import UserError

        try:
            changes = adopt_variant(self.project, variant)  # type: ignore[attr-defined]
        except UserError as exc:
            from tui_lora.tui.common.fixes import say

            self.notify(say(exc, "compare"), severity="error", markup=False)  # type: ignore[attr-defined]
            return
        said = ", ".join(f"{k} = {b}" for k, _a, b in changes) if changes else "nothing changed: it had them already"
        self.notify(f"project.toml: {said}.", title="Settings adopted", markup=False)  # type: ignore[attr-defined]
