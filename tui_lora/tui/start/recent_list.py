"""The start screen's list of recent projects, each with its family, image count and run state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_lora.core.errors import UserError
from tui_lora.core.project import Project, family_label
from tui_lora.tui.common.format import fit, short_path
from tui_lora.tui.common.fixes import say


@dataclass(frozen=True)
class RecentInfo:
    path: Path
    name: str = ""
    family: str = ""
    images: int = 0
    state: str = "none"  # none | running | stopped | finished | failed (core.jobs.STATES)
    progress: str = ""
    problem: str = ""  # a broken project.toml, for example
    demo: bool = False  # made by `tui-lora demo`


def describe_recent(path: Path) -> RecentInfo:
    """Read one recent project for the list (runs in a worker thread: it touches the disk)."""
    from tui_lora.core.jobs import job_status

    try:
        project = Project.load(path)
    except UserError as exc:
        return RecentInfo(path, problem=say(exc))
    images = sum(len(c.images()) for c in project.concepts())
    status = job_status(project)
    s = status.summary
    state = status.state
    progress = f"{s.step}/{s.total_steps}" if s.total_steps else ""
    from tui_lora.demo.project import is_demo

    return RecentInfo(path, project.name, project.family, images, state, progress, demo=is_demo(path))


class RecentList(OptionList):
    DEFAULT_CSS = """
    RecentList {
        height: 1fr;
        border: round $primary-darken-2;
        padding: 0 0;
    }
    RecentList:focus {
        border: round $primary;
    }
    """

    def show(self, infos: list[RecentInfo]) -> None:
        highlighted = self.highlighted
        self.clear_options()
        self.add_options([Option(self._prompt(info), id=str(info.path)) for info in infos])
        if infos:
            self.highlighted = min(highlighted or 0, len(infos) - 1)

    def _prompt(self, info: RecentInfo) -> Text:
        width = max(20, (self.size.width or 78) - 4)
        path_w = min(40, width // 2)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{fit(short_path(info.path), path_w):<{path_w}} ", style="bold")
        if info.problem:
            t.append(info.problem, style="red")
            return t
        if not info.name:
            t.append("…", style="dim")
            return t
        if info.demo:
            t.append("DEMO ", style="bold black on yellow")
        t.append(f"{family_label(info.family)} · {info.images} images", style="")
        if info.state == "running":
            t.append(f" · ● training {info.progress}", style="bold green")
        elif info.state == "finished":
            t.append(" · trained", style="dim")
        elif info.state == "stopped":
            t.append(f" · stopped at {info.progress}", style="yellow")
        elif info.state == "failed":
            t.append(" · last run failed", style="yellow")
        return t

    @property
    def selected_path(self) -> Path | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return Path(self.get_option_at_index(self.highlighted).id or "")
