"""Pilot tests of the Steps screen: edits update the formula, warnings and VRAM as you type;
valid ones are saved to project.toml (repeats by renaming the folder), invalid ones are not."""

import tomllib

from textual.widgets import Input, Select

from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.field import Field
from tui_lora.tui.steps.plan_view import PlanView
from tui_lora.tui.steps.screen import NETWORK_CHOICES, StepsScreen
from wizard_support import (  # noqa: F401 - fixtures
    screen_text, flat, gpu_12gb, home, no_gpu, run, settle, wait_for, wizard_project,
)


def plan(app) -> str:
    """The right pane's text in one line (the left column would interleave with it on screen)."""
    return " ".join(app.screen.query_one(PlanView).text.plain.split())


def error(app, control_id: str) -> str | None:
    return app.screen.query_one(f"#field-{control_id}", Field).error


def saved(project) -> dict:
    return tomllib.loads(project.toml_path.read_text())


async def edit(pilot, input_id: str, text: str) -> None:
    field = pilot.app.screen.query_one(f"#{input_id}", Input)
    field.focus()
    await pilot.pause()
    await pilot.press("ctrl+u", *text)


async def open_steps(pilot) -> StepsScreen:
    await pilot.press("5")
    await settle(pilot)
    assert isinstance(pilot.app.screen, StepsScreen)
    return pilot.app.screen


async def test_editing_updates_the_formula_and_saves(wizard_project, gpu_12gb):
    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_steps(pilot)
        assert "8 images × 10 repeats × 10 epochs ÷ batch 2 = 400 steps" in plan(app)
        assert "fits the NVIDIA GeForce RTX 3060 (12 GB)" in plan(app)
        await edit(pilot, "epochs", "20")
        assert "8 images × 10 repeats × 20 epochs ÷ batch 2 = 800 steps" in plan(app)
        assert "training.max_train_epochs 10 → 20" in plan(app)  # the difference from the preset
        assert saved(project)["training"]["max_train_epochs"] == 10  # not yet: still in the field
        await pilot.press("enter")
        assert saved(project)["training"]["max_train_epochs"] == 20
        assert "✓ saved in project.toml" in flat(app)
        await edit(pilot, "batch", "4")
        assert "÷ batch 4 = 400 steps" in plan(app)
        await edit(pilot, "unet_lr", "3e-3")
        assert "unet_lr 0.003 is risky with AdamW8bit" in plan(app)
        await edit(pilot, "batch", "64")
        assert "VRAM ≈" in plan(app) and "more than the NVIDIA GeForce RTX 3060" in plan(app)
        await pilot.press("tab")  # leaving a field saves it
        app.screen.query_one("#optimizer", Select).value = "Prodigy"
        await settle(pilot)
        assert "Prodigy finds the learning rate itself" in plan(app)
    data = saved(project)
    assert data["training"]["train_batch_size"] == 64 and data["training"]["unet_lr"] == 3e-3
    assert data["training"]["optimizer_type"] == "Prodigy"
    assert "clip_skip = 2" in project.toml_path.read_text()  # the preset's comments and keys survive
    assert "# anime models descend from NovelAI" in project.toml_path.read_text()


async def test_the_network_choice_sets_type_and_dora(wizard_project, gpu_12gb):
    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_steps(pilot)
        select = app.screen.query_one("#network", Select)
        assert select.value == "lora"
        assert [label for label, _, _ in NETWORK_CHOICES] == [
            "lora", "lora + DoRA", "locon", "locon + DoRA", "loha", "lokr"]
        vram = plan(app).split("VRAM ≈ ")[1].split(" GB")[0]
        select.value = "lora + DoRA"
        await settle(pilot)
        assert plan(app).split("VRAM ≈ ")[1].split(" GB")[0] != vram  # DoRA costs memory
        assert "network.dora False → True" in plan(app)
        assert (saved(project)["network"]["network_type"], saved(project)["network"]["dora"]) == ("lora", True)
        select.value = "lokr"
        await settle(pilot)
        assert (saved(project)["network"]["network_type"], saved(project)["network"]["dora"]) == ("lokr", False)
        assert "network.network_type lora → lokr" in plan(app)


async def test_invalid_values_show_the_error_and_are_not_saved(wizard_project, no_gpu):
    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_steps(pilot)
        assert "No NVIDIA GPU found (nvidia-smi is not installed on this machine)" in plan(app)
        await edit(pilot, "dim", "abc")
        assert error(app, "dim") == ("network.network_dim = 'abc' is not a number; it must be a whole number "
                                     "from 1 to 1024.")
        text = screen_text(app)
        assert "Dim (rank)   abc" in text and "esc Leave field" in text and "F1 Help" in text  # in a field
        assert "✗ Dim (rank): not saved until fixed" in flat(app)
        await edit(pilot, "epochs", "0")  # 0 epochs and 0 max_train_steps: a rule across two keys
        assert "are both 0; set one of them" in error(app, "epochs")
        await edit(pilot, "repeats-0", "0")
        assert error(app, "repeats-0") == "Repeats 0 is out of range; use 1 to 1000 (10 is typical for 20-50 images)."
        await pilot.press("ctrl+p")  # leave the screen: the valid parts are saved, the rest is not
        await pilot.press("ctrl+n")
        assert app.screen.query_one("#dim", Input).value == "abc"  # going back keeps what was typed
        assert "not a number" in error(app, "dim")
        await edit(pilot, "dim", "32")
        await pilot.press("enter")
    data = saved(project)
    assert data["network"]["network_dim"] == 32 and data["training"]["max_train_epochs"] == 10
    assert [c.folder for c in project.concepts()] == ["10_ohwx"]


async def test_repeats_rename_the_dataset_folder(wizard_project, no_gpu):
    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_steps(pilot)
        await edit(pilot, "repeats-0", "4")
        assert "8 images × 4 repeats × 10 epochs ÷ batch 2 = 160 steps" in plan(app)
        assert "repeats (ohwx) 10 → 4" in plan(app)
        assert [c.folder for c in project.concepts()] == ["10_ohwx"]
        await pilot.press("enter")
        assert [c.folder for c in project.concepts()] == ["4_ohwx"]
        assert len(project.concepts()[0].images()) == 8
        await pilot.press("ctrl+p", "ctrl+p", "ctrl+p", "ctrl+p")  # Tags, Review, Fetch, Project (not a digit: it types)
        await settle(pilot)
        assert "dataset/4_ohwx/ 8 images, 8 captions, 4 repeats" in flat(app)


async def test_help_explains_each_parameter(wizard_project, no_gpu):
    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_steps(pilot)
        app.screen.query_one("#epochs", Input).focus()
        await pilot.press("?")  # a number field passes ? on to the help
        await wait_for(pilot, lambda: "Help: Steps" in flat(app))
        text = flat(app)
        assert "Total steps images × repeats × epochs ÷ batch." in text
        assert "How often each image is shown per epoch." in text
        await pilot.press("escape")
        assert isinstance(app.screen, StepsScreen)
        assert app.screen.query_one("#epochs", Input).value == "10"


async def test_the_footer_says_how_into_the_values(wizard_project, gpu_12gb):
    from tui_lora.tui.common.key_footer import KeyFooter

    project = wizard_project("proj", images=8)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_steps(pilot)
        assert screen.focused is None  # arriving leaves the cursor out of the fields
        assert "tab Edit values" in screen.query_one(KeyFooter).render().plain
        await pilot.press("tab")
        await pilot.pause()
        assert screen.focused is screen.query_one("#repeats-0", Input)
        footer = screen.query_one(KeyFooter).render().plain
        assert "Edit values" not in footer and "esc Leave field" in footer
        await pilot.press("tab")  # in a field, tab is the next field
        await pilot.pause()
        assert screen.focused is not screen.query_one("#repeats-0", Input)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.focused is None and "tab Edit values" in screen.query_one(KeyFooter).render().plain
