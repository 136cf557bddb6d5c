"""The Compare step's export (e): the ExportDialog's choice copied by core.export in a worker, a
different file of the same name replaced only after asking, and the prompt snippet shown. A mixin of
CompareScreen (screen.py), kept apart so that screen stays about rendering and picking."""

from __future__ import annotations

from textual import work
from textual.widgets import Static

from tui_lora.core.errors import UserError
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.format import short_path


class ExportActions:
    def action_export(self) -> None:
        from tui_lora.core.export import choose_file
        from tui_lora.tui.compare.export_dialog import ExportDialog

        try:
            source = choose_file(self.project)
        except UserError as exc:
            self.wizard.show_error(exc)
            return
        self.app.push_screen(ExportDialog(source.name), lambda to: self.export_worker(to, False) if to else None)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export_worker(self, to: str, force: bool) -> None:
        from tui_lora.core.export import TargetExists, export_lora

        try:
            result = export_lora(self.project, to, force=force)
        except TargetExists as exc:
            self.app.call_from_thread(self._ask_replace, to, exc)
            return
        self.app.call_from_thread(self._exported, result)

    def _ask_replace(self, to: str, exc) -> None:
        from tui_lora.tui.common.confirm import ConfirmScreen

        question = f"{short_path(exc.target)} already exists and is a different file. Replace it?"
        self.app.push_screen(ConfirmScreen(question, yes="Replace", no="Keep it"),
                             lambda yes: self.export_worker(to, True) if yes else None)

    def _exported(self, result) -> None:
        verb = "Copied" if result.copied else "Already there:"
        where = f" ({result.ui})" if result.ui else ""
        text = (f"{verb} {result.source.name} → {short_path(result.target)}{where}. In a prompt: {result.snippet} "
                f"· ComfyUI: LoraLoader {result.target.name}, strength {result.weight:g}.")
        if not self.showing_grid:
            show_line(self.query_one("#compare-status", Static), text)
        self.notify(text, title="Exported", timeout=30, markup=False)

