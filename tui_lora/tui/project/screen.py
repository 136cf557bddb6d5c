"""The Project step: what the open project holds and what to do next."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui_lora.core.compare import list_epoch_files
from tui_lora.core.dataset.folders import list_images, stray_folders
from tui_lora.core.jobs import JobStatus, job_status
from tui_lora.core.project import family_label
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.format import short_path
from tui_lora.tui.common.fixes import say
from tui_lora.tui.navigation import STEPS, available


@dataclass(frozen=True)
class DatasetCount:
    folder: str
    repeats: int
    images: int
    captions: int


@dataclass(frozen=True)
class Overview:
    concepts: tuple[DatasetCount, ...]
    trash: int
    stray: tuple[str, ...]
    status: JobStatus
    saved: int = 0  # LoRA files in output/ (epochs and the final one) that Compare can use


def read_overview(project) -> Overview:
    ext = project.settings["dataset"]["caption_extension"] or ".txt"
    counts = []
    for c in project.concepts():
        images = c.images()
        counts.append(DatasetCount(c.folder, c.repeats, len(images),
                                   sum(1 for p in images if p.with_suffix(ext).is_file())))
    return Overview(tuple(counts), len(list_images(project.trash_dir)),
                    tuple(p.name for p in stray_folders(project.dataset_dir)), job_status(project),
                    len(list_epoch_files(project)))


class ProjectScreen(WizardScreen):
    STEP_ID = "project"
    HELP_TITLE = "Project"
    HELP_INTRO = ("The open project at a glance: its base model, trigger word, dataset folders with "
                  "image and caption counts, and the state of its latest training run. project.toml "
                  "holds every setting and can also be edited by hand (the wizard re-reads it when a "
                  "project is opened).")
    HELP_ITEMS = ("base_model", "trigger", "repeats")

    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("o", "app.show_start", "Other project", show=False),
    ]

    class OverviewRead(Message):
        def __init__(self, overview: Overview) -> None:
            super().__init__()
            self.overview = overview

    DEFAULT_CSS = """
    ProjectScreen #demo-banner {
        height: auto;
        margin: 0 1;
        padding: 0 1;
        background: $warning 20%;
        border-left: thick $warning;
    }
    """

    def compose_body(self) -> ComposeResult:
        yield Static(self.project.name, classes="screen-title", id="project-title", markup=False)
        if self.wizard.is_demo:
            from tui_lora.tui.demo_session import BANNER

            yield Static(BANNER, id="demo-banner", markup=False)
        with VerticalScroll(classes="body"):
            yield Static(self._settings_table(), id="project-settings")
            yield Static("Reading the dataset…", id="project-dataset")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.query_one("#project-settings", Static).update(self._settings_table())
        self.read(self.project)

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def read(self, project) -> None:
        self.post_message(self.OverviewRead(read_overview(project)))

    def on_project_screen_overview_read(self, message: OverviewRead) -> None:
        self.query_one("#project-dataset", Static).update(self._dataset_text(message.overview))

    def _settings_table(self) -> Table:
        p = self.project
        t = Table.grid(padding=(0, 2))
        t.add_column(style="dim", no_wrap=True)
        t.add_column(overflow="fold")
        trigger = p.settings["project"]["trigger_word"]
        rows = [
            ("Folder", short_path(p.root)),
            ("Family", f"{family_label(p.family)} · preset {p.settings['project']['preset'] or '(none)'}"),
            ("Base model", short_path(p.get("model.pretrained_model_name_or_path"))),
            ("Trigger word", trigger or "(none: the LoRA applies without a word)"),
            ("Output", f"output/{p.output_name}-NNNNNN.safetensors, output/{p.output_name}.safetensors"),
        ]
        for k, v in rows:
            t.add_row(k, Text(v))
        return t

    def _dataset_text(self, ov: Overview) -> Text:
        t = Text()
        t.append("\nDataset\n", style="bold")
        if not ov.concepts:
            t.append("  No dataset/<repeats>_<name>/ folder: make one, e.g. dataset/10_ohwx/.\n", style="yellow")
        for c in ov.concepts:
            t.append(f"  dataset/{c.folder}/  ", style="bold")
            t.append(f"{c.images} images, {c.captions} captions, {c.repeats} repeats\n")
        if ov.trash:
            t.append(f"  dataset/.trash/  {ov.trash} images removed (restorable)\n", style="dim")
        for name in ov.stray:
            t.append(f"  dataset/{name}/ is ignored by training: name it <repeats>_{name}.\n", style="yellow")
        images = sum(c.images for c in ov.concepts)
        t.append("\nTraining\n", style="bold")
        st, s = ov.status, ov.status.summary
        resume = f"; r on 6 Train resumes from step {st.resume_step}" if st.resumable else ""
        if st.running:
            where = f"step {s.step}/{s.total_steps}, epoch {s.epoch}/{s.epochs}" if s.total_steps else "starting"
            t.append(f"  ● running: {where} (6 to watch)\n", style="green")
        elif st.state == "finished":
            t.append(f"  finished: {short_path(s.final_path or '')} (6 to see the run)\n")
        elif st.state == "stopped":
            t.append(f"  stopped at step {s.step}/{s.total_steps}{resume}\n", style="yellow")
        elif st.state == "failed":
            why = s.error or st.message
            t.append(f"  the last run failed: {say(why, self.STEP_ID) if why else 'see logs/train.log'}{resume}\n",
                     style="yellow")
        else:
            t.append("  no run yet\n", style="dim")
        t.append("\nNext\n", style="bold")
        captions = sum(c.captions for c in ov.concepts)
        if images == 0:
            folder = ov.concepts[0].folder if ov.concepts else "10_name"
            t.append(f"  2 Fetch images from a booru, or copy 15-50 into dataset/{folder}/ (then r).\n")
        elif captions < images:
            t.append(f"  4 Tags: {images - captions} of {images} images have no caption yet; tag them there.\n")
        elif st.state == "none" or (st.state == "failed" and not st.resumable):
            t.append("  5 Steps: check the step count, settings and VRAM; then 6 Train (s starts it).\n")
        elif st.state in ("stopped", "failed"):
            t.append("  6 Train: resume the run (r) or start over (s).\n")
        else:
            t.append("  6 Train: watch the run; 5 Steps to adjust settings for the next one.\n")
        if ov.saved and not ov.status.running and images:
            files = f"{ov.saved} saved LoRA file{'s' if ov.saved != 1 else ''}"
            t.append(f"  7 Compare: render the {files} side by side and keep the best.\n")
        coming = [s.label for s in STEPS if not available(s)]
        if coming:
            t.append(f"  ({', '.join(coming)}: coming in the next update.)", style="dim")
        t.rstrip()
        return t
