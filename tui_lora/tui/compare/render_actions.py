"""The Compare step's rendering: ^r checks the form and runs `tui-lora compare … --json --progress-json`
in a child process (compare_child.py) from a thread worker, so torch never loads in the wizard; its
lines arrive as :class:`CompareProgress` (a burst is one redraw) and the finished grid as
:class:`Rendered`, and esc sends the child SIGTERM, which the command turns into a clean cancel (no grid
written). A mixin of CompareScreen (screen.py), kept apart so that screen stays about the form.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker

from tui_lora.core.errors import UserError
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.fixes import say
from tui_lora.tui.common.format import short_path
from tui_lora.tui.common.progress_text import bar_with_text
from tui_lora.tui.compare.compare_child import Child, ChildEvent, run_compare_child
from tui_lora.tui.compare.compare_grids import GridInfo, read_grid


class CompareProgress(Message):
    """The child's newest line; a burst of them is one redraw."""

    def __init__(self, event: ChildEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CompareProgress) and self.event.kind != "warning"


class Rendered(Message):
    def __init__(self, info: GridInfo) -> None:
        super().__init__()
        self.info = info


class RenderActions:
    """Needs the screen's ``rendering``, ``files``, ``sweep``, ``_child``, ``project``, ``_check``,
    ``_list_grids``, ``open_grid``, ``action_leave_field``, ``query_one``, ``notify`` and
    ``refresh_bindings``."""

    def action_render(self) -> None:
        if self.rendering or not (self.files or self.sweep):
            return
        result = self._check()
        if not result.ok:
            first = next(iter(result.errors.values()))
            self.notify(first, severity="warning", markup=False)
            return
        self.rendering = True
        self.action_leave_field()  # esc now cancels the render, and keys act on the screen
        self.refresh_bindings()
        show_line(self.query_one("#compare-status", Static), "Starting the renderer…")
        self.render_grid(self.project.root, result.args)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def render_grid(self, root: Path, args: list[str]) -> None:
        def started(child: Child) -> None:
            self._child = child

        try:
            result = run_compare_child(root, args, lambda e: self.post_message(CompareProgress(e)), started)
        finally:
            self._child = None
        self.post_message(Rendered(read_grid(Path(result["index"]))))

    def on_compare_progress(self, message: CompareProgress) -> None:
        e = message.event
        status = self.query_one("#compare-status", Static)
        if e.kind == "warning":
            self.notify(e.what, severity="warning", markup=False)
        elif e.kind == "log" and self.rendering:
            show_line(status, e.what[:1].upper() + e.what[1:] + "…")
        elif e.kind == "progress" and self.rendering:
            width = max(20, status.size.width or 76)
            what = "writing the grid" if e.done >= e.total else f"{e.done + 1}/{e.total}: {e.what}"
            show_line(status, bar_with_text(e.done, e.total, width, what))

    def action_cancel(self) -> None:
        child = self._child
        if child is not None:
            child.cancel()
            show_line(self.query_one("#compare-status", Static), "Cancelling…")

    def on_rendered(self, message: Rendered) -> None:
        self._render_ended()
        self.notify(f"Grid saved: {short_path(message.info.png)}", markup=False)
        self._list_grids()
        self.open_grid(message.info)

    def _render_ended(self) -> None:
        self.rendering = False
        self.refresh_bindings()
        self._check()

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        if worker.group != "compare":
            return False
        self._render_ended()
        if isinstance(error, UserError) and error.exit_code == 130:
            show_line(self.query_one("#compare-status", Static), "Cancelled; no grid was written.")
            return True
        if isinstance(error, UserError):
            show_line(self.query_one("#compare-status", Static), say(error, self.STEP_ID), error=True)
        return False  # and a notification
