"""Pilot tests of the wizard's sweep parts on a tiny model: the Train step's sweep form (settings, values,
the planner's total), a real detached sweep followed variant by variant, stopped with x and resumed with r;
the Compare step's prompt list, several seeds, the sweep's variants as rows, flipping through a cell's
prompt × seed pictures, zooming into all of them, and picking a variant whose settings then go into
project.toml. Keys as the footer says them; 80×24 with no sentence cut off."""

import os
import shutil
import signal

import pytest
from wizard_support import (  # noqa: F401 - fixtures
    assert_snapshot, flat, home, run, screen_text, settle, train_project, wait_for,
)

from tui_lora.core import joblock
from tui_lora.core.project import Project
from tui_lora.core.sweep import VariantProject, parse_varies, sweep_status
from tui_lora.core.sweep.manifest import SweepManifest, write_manifest
from tui_lora.core.sweep.spec import combinations
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.confirm import ConfirmScreen
from tui_lora.tui.compare.compare_zoom import CompareZoom
from tui_lora.tui.compare.prompt_list import PromptListDialog, check_lines
from tui_lora.tui.compare.screen import CompareScreen
from tui_lora.tui.train.screen import TrainScreen
from tui_lora.tui.train.sweep_form import SweepDialog, check_rows
from support.train import sigterm_pending

JOB_S = 240


def footer(app) -> str:
    return screen_text(app).rstrip("\n").rsplit("\n", 1)[-1]


# ----- the Train step ----------------------------------------------------------------------------------
def test_the_sweep_form_checks_rows_like_the_sweep(make_project):
    project = make_project(images=4)
    ok = check_rows(project, [("training.unet_lr", "1e-4,5e-4"), ("network.network_dim", "8,16"), ("", "")])
    assert ok.ok and ok.count == 4 and ok.varies == ["training.unet_lr=1e-4,5e-4", "network.network_dim=8,16"]
    assert ok.summary.startswith("4 variants, ") and "steps in all: lr1e-4_dim8, lr1e-4_dim16" in ok.summary
    bad = check_rows(project, [("training.unet_lr", "1e-4,fast"), ("", "8"), ("project.name", "a,b")])
    assert not bad.ok and set(bad.errors) == {0, 1, 2} and bad.summary == "Fix the row marked in red."
    assert "'fast' is not a number" in bad.errors[0] and bad.errors[1] == "Name the setting, e.g. training.unet_lr."
    twice = check_rows(project, [("training.unet_lr", "1e-4"), ("training.unet_lr", "2e-4"), ("", "")])
    assert not twice.ok and "varied twice" in twice.summary
    assert check_rows(project, [("", "")] * 3).summary == "Name at least one setting and its values."


async def test_start_follow_stop_and_resume_a_sweep(train_project):
    project = train_project({"training.train_batch_size": 1, "training.max_train_epochs": 8})  # 16 steps each
    app = WizardApp(project, frozen=True)
    async with run(app) as pilot:
        await pilot.press("6")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.POLL_S = 0.05
        await wait_for(pilot, lambda: "w Sweep" in footer(app), what="the sweep key")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepDialog), what="the form")
        dialog = app.screen
        from textual.widgets import Input

        dialog.query_one("#sweep-values-0", Input).value = "1e-4,5e-4"
        dialog.query_one("#sweep-key-1", Input).value = ""
        dialog.query_one("#sweep-values-1", Input).value = ""
        await pilot.pause()
        text = flat(app)
        assert "2 variants, 32 steps in all: lr1e-4, lr5e-4" in text
        assert "enter / ^s start the sweep · tab next field · esc cancel" in text
        assert_snapshot(app, "train_sweep_form")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "● sweep of 2 variants" in flat(app), timeout=JOB_S, what="the running sweep")
        await wait_for(pilot, lambda: "lr5e-4 " in flat(app) and "running" in flat(app) and "16/16" not in flat(app)
                       and "/16" in flat(app), timeout=JOB_S, what="a variant training")
        await wait_for(pilot, lambda: "x Stop" in footer(app) and "w Sweep" not in footer(app), what="the keys")
        assert "x stops it (the running variant saves); the variants' files go to output/sweep/." in flat(app)
        # frozen until x's SIGTERM is pending: under load the variant's 16 steps could end before x lands
        pgid = os.getpgid(joblock.live_lock(project).pid)
        os.killpg(pgid, signal.SIGSTOP)
        try:
            await pilot.press("x")
            await wait_for(pilot, lambda: sigterm_pending(pgid), timeout=JOB_S, what="the stop's signal")
        finally:
            os.killpg(pgid, signal.SIGCONT)
        await wait_for(pilot, lambda: "■ sweep stopped" in flat(app), timeout=JOB_S, what="the stop")
        assert "r resumes it (finished variants are kept); w starts a new one." in flat(app)
        await wait_for(pilot, lambda: "r Resume" in footer(app) and "x Stop" not in footer(app), what="the keys")
        st = sweep_status(project)
        assert st.state == "stopped" and any(v.state == "stopped" for v in st.variants)
        await pilot.press("r")
        await wait_for(pilot, lambda: "✓ sweep finished" in flat(app), timeout=JOB_S, what="the finished sweep")
        text = flat(app)
        assert "✓ lr1e-4 done, 16 steps loss" in text and "✓ lr5e-4 done, 16 steps loss" in text
        assert "c compares them side by side; w starts another sweep." in text
        await wait_for(pilot, lambda: "c Compare" in footer(app) and "w Sweep" in footer(app), what="the keys")
        assert sweep_status(project).state == "finished"


# ----- the Compare step --------------------------------------------------------------------------------
LABELS = ["lr1e-4", "lr5e-4"]


@pytest.fixture(scope="module")
def swept_template(tmp_path_factory, tiny_sd15):
    """Epoch files of the project itself and a sweep of two variants with final files."""
    from support.lora_files import make_lora_files
    from support.train import torch_threads

    with torch_threads(1):
        project = make_lora_files(tmp_path_factory.mktemp("swpw") / "proj", tiny_sd15, "sd15", epochs=(1,), final=2)
    varies = parse_varies(["training.unet_lr=1e-4,5e-4"])
    write_manifest(project, SweepManifest(varies, combinations(varies)))
    for label, source in zip(LABELS, (project.epoch_file(1), project.final_file())):
        view = VariantProject.of(project, label)
        view.ensure_layout()
        shutil.copyfile(source, view.final_file())
    return project.root


@pytest.fixture
def swept(swept_template, home, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root = home / "proj"
    shutil.copytree(swept_template, root)
    return Project.load(root)


def test_the_prompt_list_reads_every_line_like_the_comparison():
    assert check_lines(["ohwx, smile", "", "  ohwx, wave --n lowres "]) == (["ohwx, smile", "ohwx, wave --n lowres"],
                                                                          None)
    assert check_lines(["", " "]) == ([], "Write at least one prompt.")
    assert check_lines(["ohwx --q 3"])[1].startswith("Line 1: --q is not a sample option")


async def test_variants_as_rows_prompts_seeds_flip_zoom_and_adopt(swept):
    from textual.widgets import Checkbox, Input

    app = WizardApp(swept, frozen=True)
    async with run(app) as pilot:
        await pilot.press("7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert not screen.variants  # the project has its own epochs: they are the rows until asked
        screen.query_one("#variants", Checkbox).value = True
        await pilot.pause()
        assert screen.query_one("#epochs", Input).value == "final"
        assert "Rows: 2 variants × final." in flat(app)
        # ^e: the prompt list, one per line
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptListDialog), what="the prompt list")
        app.screen.query_one("TextArea").text = "ohwx, smile\nohwx, wave --n lowres"
        await pilot.pause()
        assert "2 prompts; the first is the form's Prompt field." in flat(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the form again")
        screen.query_one("#steps", Input).value = "2"
        screen.query_one("#weights", Input).value = "1"
        await pilot.pause()
        text = flat(app)
        assert "And 1 more prompt from the list (^e edits it)." in text
        assert "12 images (no LoRA + variants × weights, 4 prompt × seed pictures each); ^r renders the grid." in text
        assert_snapshot(app, "compare_sweep_form")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.showing_grid, timeout=JOB_S, what="the rendered grid")
        await settle(pilot)
        app.clear_notifications()
        await pilot.pause()
        text = flat(app)
        assert "2 steps · prompt 1/2 · seed 42 · ohwx, smile" in text
        assert "lr 1e-4 · final" in text and "lr 5e-4 · final" in text
        assert footer(app).split() == ["n", "Flip", "a", "All", "esc", "Form", "?", "Help", "z", "Zoom", "p", "Pick",
                                       "winner", "e", "Export", "^q", "Quit"]
        assert screen.grid_view.label_line().plain == ("lr 1e-4 · final at weight 1 · proj-lr1e-4.safetensors · "
                                                       "prompt 1 · seed 42")
        await pilot.press("n", "n")
        assert "prompt 2/2 · seed 42 · ohwx, wave" in flat(app)
        await pilot.press("a")
        assert "all 4 pictures: 2 prompts down, seeds 42, 43 across" in flat(app)
        await pilot.press("down", "z")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareZoom), what="the zoom")
        assert "lr 5e-4 · final at weight 1 (2/2, 2/2)" in flat(app)
        assert "prompts down: 1) ohwx, smile 2) ohwx, wave" in flat(app)
        await pilot.press("up")  # the zoom follows the grid's cursor
        assert "lr 1e-4 · final at weight 1 (1/2, 2/2)" in flat(app)
        await pilot.press("p")  # pick from the zoom: the variant, then the offer to adopt its settings
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60, what="the adopt question")
        assert "Also write variant lr1e-4's settings (lr 1e-4) into project.toml" in app.screen.question
        await wait_for(pilot, lambda: "Kept variant lr1e-4 at weight 1 as proj-best.safetensors" in flat(app),
                       what="the pick's notice")
        await pilot.press("y")
        await wait_for(pilot, lambda: "project.toml: training.unet_lr = 0.0001." in flat(app), what="the adoption")
    assert Project.load(swept.root).settings.training.unet_lr == 1e-4
