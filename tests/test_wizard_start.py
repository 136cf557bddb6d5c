"""Pilot tests of the start screen: recent projects, the new-project form, opening a folder,
and the offer to monitor a run that is going on."""

import tomllib

from textual.widgets import Input, Select

from tui_lora.core.events import EventWriter
from tui_lora.core.userconfig import recent_projects
from tui_lora.tui.app import WizardApp
from tui_lora.tui.project.screen import ProjectScreen
from tui_lora.tui.start.new_project import NewProjectScreen
from tui_lora.tui.start.screen import StartScreen
from tui_lora.tui.train.screen import TrainScreen
from wizard_support import (  # noqa: F401 - fixtures
    flat, home, job_lock, run, screen_text, settle, wait_for, wizard_project,
)


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press("end", *text)  # focus does not promise where the cursor sits


async def test_create_a_project_from_the_form(home, tiny_sd15):
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        assert isinstance(app.screen, StartScreen)
        assert "No recent projects yet" in screen_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, NewProjectScreen)
        await pilot.press(*"loras/mylora")  # the folder field has the focus
        assert "loras does not exist" in screen_text(app)
        (home / "loras").mkdir()
        await pilot.press("backspace", "a")
        assert "creates ~/loras/mylora" in screen_text(app)
        base = app.screen.query_one("#base_model", Input)
        base.value = str(tiny_sd15)[:-1]
        await type_into(pilot, "#base_model", str(tiny_sd15)[-1])  # the family follows the typing
        await wait_for(pilot, lambda: "SD1.5 (read from the model folder)" in flat(app), what="the family note")
        await type_into(pilot, "#trigger", "mychar")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectScreen), what="the project screen")
        await settle(pilot)
        text = screen_text(app)
        assert "dataset/10_mychar/  0 images" in text and "2 Fetch images from a booru, or copy 15-50 into" in text
    data = tomllib.loads((home / "loras/mylora/project.toml").read_text())
    assert data["project"]["trigger_word"] == "mychar" and data["project"]["family"] == "sd15"
    assert data["model"]["pretrained_model_name_or_path"] == str(tiny_sd15)
    assert recent_projects() == [home / "loras/mylora"]


async def test_bad_input_shows_one_sentence_and_creates_nothing(home, tiny_sd15):
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await pilot.press("n")
        await pilot.press("ctrl+s")
        assert "Type a folder for the project" in screen_text(app)
        await pilot.press(*"sdxl-lora")
        # An SD1.5 model folder with an SDXL preset: caught live under the field, and again by Create.
        app.screen.query_one("#preset", Select).value = "sdxl-character"
        base = app.screen.query_one("#base_model", Input)
        base.value = str(tiny_sd15)
        await settle(pilot)
        assert "This is an SD1.5 model but the preset is for SDXL" in flat(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        text = flat(app)
        assert "The base model is SD1.5 but preset sdxl-character is for SDXL" in text
        assert "Traceback" not in text
        assert isinstance(app.screen, NewProjectScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, StartScreen)
    assert not (home / "sdxl-lora").exists()
    assert not [p for p in home.iterdir() if p.name.startswith(".sdxl-lora")]  # no staging left over


async def test_preset_choice_follows_with_the_default_base_model(home):
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await pilot.press("n")
        app.screen.query_one("#preset", Select).value = "sdxl-style"
        await wait_for(pilot, lambda: "SDXL (guessed from the repo name" in flat(app), what="the family note")
        assert app.screen.query_one("#base_model", Input).value == "stabilityai/stable-diffusion-xl-base-1.0"


async def test_open_a_recent_project_and_walk_the_steps(wizard_project):
    wizard_project("older", images=2)
    wizard_project("proj", images=8)
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert text.index("~/proj") < text.index("~/older")  # newest first
        assert "SD1.5 · 8 images" in text
        await pilot.press("enter")
        assert isinstance(app.screen, ProjectScreen) and app.project.name == "proj"
        await pilot.press("7")  # nothing trained yet: Compare says to train first
        await wait_for(pilot, lambda: "train first (6 Train)" in flat(app), what="the Compare step")
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectScreen), what="the Project step")
        await pilot.press("ctrl+n")
        assert app.screen.STEP_ID == "fetch"
        await pilot.press("ctrl+n")
        assert app.screen.STEP_ID == "review"
        await pilot.press("ctrl+n")
        assert app.screen.STEP_ID == "tags"
        await pilot.press("ctrl+n")
        assert app.screen.STEP_ID == "steps"
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("ctrl+n")
        assert app.screen.STEP_ID == "compare"
        await pilot.press("ctrl+n")  # the last step
        await wait_for(pilot, lambda: "That is the last step." in flat(app), what="the notification")
        assert app.screen.STEP_ID == "compare"
        await pilot.press("escape", "escape", "escape", "escape", "escape", "escape", "escape")
        assert isinstance(app.screen, StartScreen)
        await pilot.press("down", "enter")
        assert app.project.name == "older"


async def test_open_a_folder_by_path(wizard_project, home):
    wizard_project("proj", remember=False)
    (home / "notaproject").mkdir()
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await pilot.press("o")
        await pilot.press(*"notaproject", "enter")
        text = flat(app)
        assert "is not a tui-lora project (no project.toml)" in text
        app.screen.query_one(Input).value = ""
        await pilot.press(*"pro")
        await settle(pilot)
        await pilot.press("right")  # accept the folder completion
        assert app.screen.query_one(Input).value == "proj/"
        assert "a tui-lora project: ~/proj" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, ProjectScreen)
    assert recent_projects() == [home / "proj"]


def write_run_at_step_120(project) -> None:
    w = EventWriter(project.events_path)
    w.emit("start", total_steps=400, epochs=10, steps_per_epoch=40, images=8, device="cuda")
    w.emit("step", step=120, epoch=3, loss=0.1, avg_loss=0.11, lr=5e-4, it_per_s=2.0, eta_s=140.0)


async def test_a_running_job_is_detected_and_offered(wizard_project):
    project = wizard_project("proj")
    write_run_at_step_120(project)
    app = WizardApp(frozen=True)
    with job_lock(project):  # a live trainer process holds the project's lock
        await _offer_and_watch(app)


async def test_a_run_whose_process_is_gone_is_not_offered(wizard_project):
    project = wizard_project("proj")
    write_run_at_step_120(project)
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        assert "last run failed" in screen_text(app) and "● training" not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProjectScreen)  # no offer: nothing runs
        assert "the last run failed: The training process ended unexpectedly at step 120" in flat(app)
        assert "start it again with s (Start on 6 Train)" in flat(app) and "tui-lora train" not in flat(app)


async def _offer_and_watch(app):
    async with run(app) as pilot:
        await settle(pilot)
        assert "● training 120/400" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Watch it now?" in screen_text(app), what="the offer")
        assert "(step 120/400, epoch 3/10)" in app.screen.question  # the modal over the project screen
        await pilot.press("y")
        assert isinstance(app.screen, TrainScreen)
        await wait_for(pilot, lambda: "step 120/400" in screen_text(app), what="the monitor")
