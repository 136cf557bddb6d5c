"""Open an existing project folder by typing its path (checked as you type, completed with →)."""

from __future__ import annotations

import os

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from tui_lora.core.errors import UserError
from tui_lora.core.project import PROJECT_FILE, Project
from tui_lora.tui.common.field import Field, text_input
from tui_lora.tui.common.format import resolve_user_path, short_path
from tui_lora.tui.common.fixes import say


class FolderSuggester(Suggester):
    """Completes the last part of a path with the first matching sub-folder (accept with →)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or value.endswith(os.sep):
            return None
        head, _, part = value.rpartition(os.sep)
        parent = resolve_user_path(head + os.sep if head or value.startswith(os.sep) else ".")
        try:
            names = sorted(e.name for e in os.scandir(parent) if e.is_dir() and not e.name.startswith("."))
        except OSError:
            return None
        match = next((n for n in names if n.startswith(part) and n != part), None)
        return value[: len(value) - len(part)] + match + os.sep if match else None


class OpenFolderScreen(ModalScreen[Project | None]):
    DEFAULT_CSS = """
    OpenFolderScreen {
        align: center middle;
    }
    OpenFolderScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    OpenFolderScreen #open-title {
        text-style: bold;
        margin-bottom: 1;
    }
    OpenFolderScreen #open-keys {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Open a project folder", id="open-title")
            field_input = text_input("open_path", placeholder="e.g. ~/loras/marisa")
            field_input.suggester = FolderSuggester()
            yield Field("Folder", field_input, hint="the folder that holds project.toml", label_width=8)
            yield Static("enter open · → complete · esc cancel", id="open-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#open_path", Input).focus()

    @on(Input.Changed, "#open_path")
    def _changed(self, event: Input.Changed) -> None:
        field = self.query_one("#field-open_path", Field)
        if not event.value.strip():
            field.set_note()
            return
        path = resolve_user_path(event.value)
        if (path / PROJECT_FILE).is_file():
            field.set_note(f"a tui-lora project: {short_path(path)}", "ok")
        elif path.is_dir():
            field.set_note("no project.toml in this folder yet")
        else:
            field.set_note("no such folder yet")

    @on(Input.Submitted, "#open_path")
    def _submitted(self, event: Input.Submitted) -> None:
        field = self.query_one("#field-open_path", Field)
        if not event.value.strip():
            field.set_note("Type the project's folder, e.g. ~/loras/marisa.", "error")
            return
        try:
            project = Project.load(resolve_user_path(event.value))
        except UserError as exc:
            field.set_note(say(exc), "error")
            return
        self.dismiss(project)

    def action_cancel(self) -> None:
        self.dismiss(None)
