"""The first screen: recent projects, a new project, or an existing folder."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList, Static

from tui_lora.core.errors import UserError
from tui_lora.core.project import Project
from tui_lora.core.userconfig import recent_projects
from tui_lora.tui.common.base import NO_PROJECT_KEYS, WizardScreen
from tui_lora.tui.common.fixes import say
from tui_lora.tui.start.recent_list import RecentInfo, RecentList, describe_recent


class StartScreen(WizardScreen):
    STEP_ID = None
    HELP_TITLE = "Start"
    HELP_INTRO = (
        "tui-lora walks you from a folder of images to a LoRA file: Project → Fetch → Review → Tags → "
        "Steps → Train → Compare. Each step is also a headless command (tui-lora --help). Pick a recent "
        "project, create a new one, or open a project folder. A project that is training shows "
        "'● training'; opening it offers to watch the run. d opens the DEMO project (built on first use, "
        "about 20 s): generated images, a tiny model and a local fake booru, so every step can be tried with no "
        "account, GPU or internet."
    )
    HELP_ITEMS = ("folder", "preset", "base_model", "trigger")

    DEFAULT_CSS = """
    StartScreen #start-empty {
        height: auto;
        padding: 1 2;
        color: $text-muted;
    }
    StartScreen #start-hint {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    StartScreen #start-status {
        height: auto;
        padding: 0 1;
    }
    StartScreen #start-status.-error {
        color: $error;
    }
    """

    BINDINGS = [
        *NO_PROJECT_KEYS,
        Binding("escape", "back", show=False),
        Binding("n", "new", "New project"),
        Binding("d", "demo", "Try the demo"),
        Binding("o", "open_folder", "Open folder"),
        Binding("enter", "open_selected", "Open", show=False),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    class RecentLoaded(Message):
        def __init__(self, infos: list[RecentInfo]) -> None:
            super().__init__()
            self.infos = infos

    def compose_body(self) -> ComposeResult:
        yield Static("Recent projects", classes="screen-title")
        yield RecentList(id="recent")
        yield Static("No recent projects yet. New here? Press d to try every step on the DEMO project first: "
                     "generated images, a tiny model and a local fake booru, no account, GPU or internet needed. "
                     "Or press n to create your own project, o to open a project folder.",
                     id="start-empty", markup=False)
        yield Static("", id="start-status", markup=False)
        yield Static("enter open · d demo · n new project · o open a folder · ? help", id="start-hint",
                     markup=False)

    def on_mount(self) -> None:
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        paths = recent_projects()
        self.query_one("#start-empty").display = not paths
        recent = self.query_one(RecentList)
        recent.display = bool(paths)
        recent.show([RecentInfo(p) for p in paths])  # paths at once, details when read
        if paths:
            recent.focus()
            # After the first paint: the reader thread would otherwise compete with it for the GIL.
            self.call_after_refresh(self.load_details, paths)

    @work(thread=True, exclusive=True, group="recent", exit_on_error=False)
    def load_details(self, paths: list[Path]) -> None:
        self.post_message(self.RecentLoaded([describe_recent(p) for p in paths]))

    def on_start_screen_recent_loaded(self, message: RecentLoaded) -> None:
        self.query_one(RecentList).show(message.infos)

    @on(OptionList.OptionSelected, "#recent")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.open_path(Path(event.option.id or ""))

    def action_open_selected(self) -> None:
        path = self.query_one(RecentList).selected_path
        if path is not None:
            self.open_path(path)

    def open_path(self, path: Path) -> None:
        try:
            project = Project.load(path)
        except UserError as exc:
            self.wizard.show_error(exc)
            return
        self.wizard.open_project(project)

    # ----- the demo --------------------------------------------------------------------------------
    class DemoProgress(Message):
        def __init__(self, text: str, error: bool = False) -> None:
            super().__init__()
            self.text, self.error = text, error

    class DemoReady(Message):
        def __init__(self, root: Path) -> None:
            super().__init__()
            self.root = root

    def action_demo(self) -> None:
        if any(w.group == "demo" and w.is_running for w in self.workers):
            return
        self._demo_line("Opening the DEMO project…")
        self.build_demo()

    @work(thread=True, exclusive=True, group="demo", exit_on_error=False)
    def build_demo(self) -> None:
        # Its models are built by a child Python (torch never loads in the wizard).
        from tui_lora.demo import project as demo

        try:
            project, _ = demo.build_demo(demo.default_dir(),
                                         progress=lambda text: self.post_message(self.DemoProgress(text)))
        except UserError as exc:
            self.post_message(self.DemoProgress(say(exc, None), error=True))
            return
        self.post_message(self.DemoReady(project.root))

    def on_start_screen_demo_progress(self, message: DemoProgress) -> None:
        self._demo_line(message.text, error=message.error)

    def on_start_screen_demo_ready(self, message: DemoReady) -> None:
        self._demo_line("")
        self.open_path(message.root)

    def _demo_line(self, text: str, *, error: bool = False) -> None:
        line = self.query_one("#start-status", Static)
        line.update(text)
        line.set_class(error, "-error")

    def action_new(self) -> None:
        from tui_lora.tui.start.new_project import NewProjectScreen

        self.app.push_screen(NewProjectScreen(), self._opened)

    def action_open_folder(self) -> None:
        from tui_lora.tui.start.open_folder import OpenFolderScreen

        self.app.push_screen(OpenFolderScreen(), self._opened)

    def _opened(self, project: Project | None) -> None:
        if project is not None:
            self.wizard.open_project(project)
