"""Keys never land in the wrong place (issue 13 item 3). On every step: right after arriving and after a
finished action, ? opens help and each step key 1–7 opens its step (nothing is typed into a field);
arriving never puts the cursor in a text field unless the screen is a form to fill first; esc and
enter leave a field; while in one the footer says how to leave it and that F1 is help; F1 works in
fields and dialogs."""

import json

import pytest
from textual.widgets import Input

from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.base import is_field
from tui_lora.tui.common.help import HelpScreen
from tui_lora.tui.fetch import fetchform
from tui_lora.tui.navigation import STEPS
from wizard_support import flat, home, run, screen_text, settle, wait_for, wizard_project, write_finished_run  # noqa: F401

IDS = [s.id for s in STEPS]


def fake_lora(path, epoch: int) -> None:
    """A small real safetensors file, enough for the Compare form and export (never rendered here)."""
    header = json.dumps({"__metadata__": {"ss_epoch": str(epoch)},
                         "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + bytes([epoch]) * 8)


def step_of(app) -> str | None:
    return getattr(app.screen, "STEP_ID", None)


async def keys_go_where_they_say(pilot, here: str) -> None:
    """? shows help and 1–7 open their steps; coming back finds the cursor out of any field."""
    app = pilot.app
    home_key = str(IDS.index(here) + 1)
    assert step_of(app) == here
    assert not is_field(app.screen.focused), f"{here}: the cursor is in {app.screen.focused}"
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen), f"{here}: ? did not open help"
    await pilot.press("escape")
    await pilot.pause()
    for key, step in zip("1234567", IDS):
        await pilot.press(key)
        await pilot.pause()
        assert step_of(app) == step, f"{here}: key {key} went to {step_of(app)}, not {step}"
        await pilot.press(home_key)
        await pilot.pause()
        assert step_of(app) == here and not is_field(app.screen.focused), f"{here}: back from {step}"


@pytest.fixture
def project(wizard_project, booru_server):
    p = wizard_project("marisa", images=8)
    write_finished_run(p)
    for epoch in (1, 2, 3):
        fake_lora(p.epoch_file(epoch), epoch)
    fake_lora(p.final_file(), 4)
    form = fetchform.FetchForm(source="safebooru", tags="hakurei_reimu", limit="2", folder=p.concepts()[0].folder)
    form.base_urls["safebooru"] = booru_server.base_url("safebooru")
    fetchform.save_memory(p.root, form)
    return Project.load(p.root)


async def test_every_step_key_and_help_after_arriving_and_after_an_action(project, tmp_path):
    app = WizardApp(project, frozen=True)
    async with run(app) as pilot:
        await settle(pilot)

        # 1 Project: arriving, then after a refresh
        await keys_go_where_they_say(pilot, "project")
        await pilot.press("r")
        await keys_go_where_they_say(pilot, "project")

        # 2 Fetch (filled in: no field takes the cursor), then after a search typed in a field and a download
        await pilot.press("2")
        await wait_for(pilot, lambda: "posts match" in flat(app), timeout=10, what="the count")
        await keys_go_where_they_say(pilot, "fetch")
        await pilot.press("tab")  # into the fields: the first is Tags
        assert app.screen.focused is app.screen.query_one("#tags", Input)
        await pilot.press("end", *" solo", "enter")  # enter searches and leaves the field
        assert app.screen.query_one("#tags", Input).value == "hakurei_reimu solo"
        await wait_for(pilot, lambda: 'match "hakurei_reimu solo"' in flat(app), timeout=10, what="the new count")
        await keys_go_where_they_say(pilot, "fetch")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: "Downloaded 2 new images" in flat(app), timeout=15, what="the download")
        await keys_go_where_they_say(pilot, "fetch")
        assert app.screen.query_one("#tags", Input).value == "hakurei_reimu solo"  # nothing typed into it

        # 3 Review, then after marking an image
        await pilot.press("3")
        review = app.screen
        await wait_for(pilot, lambda: review.data is not None and not review.busy, timeout=20, what="the review")
        await keys_go_where_they_say(pilot, "review")
        await pilot.press("space")
        await keys_go_where_they_say(pilot, "review")

        # 4 Tags, then after setting the trigger word in its dialog
        await pilot.press("4")
        tags = app.screen
        await wait_for(pilot, lambda: tags.summary is not None, what="the tag table")
        await keys_go_where_they_say(pilot, "tags")
        await pilot.press("t", "ctrl+u", *"mrsa", "enter")
        await wait_for(pilot, lambda: not tags.busy and "mrsa" in flat(app), what="the trigger word")
        await keys_go_where_they_say(pilot, "tags")

        # 5 Steps, then after editing a field (enter saves it and leaves the field)
        await pilot.press("5")
        await pilot.pause(0.3)  # (the Train step's reader runs on: no settle)
        await keys_go_where_they_say(pilot, "steps")
        await pilot.press("tab")
        assert is_field(app.screen.focused)
        text = screen_text(app).splitlines()[-1]
        assert "esc Leave field" in text and "F1 Help" in text  # the footer says how to leave, and help
        await pilot.press("ctrl+u", *"12", "enter")
        assert project.concepts()[0].repeats == 12
        await keys_go_where_they_say(pilot, "steps")

        # 6 Train, then after viewing the latest sample full screen
        await pilot.press("6")
        await wait_for(pilot, lambda: app.screen.snapshot is not None, what="the run")
        await keys_go_where_they_say(pilot, "train")
        await pilot.press("v")
        await pilot.pause()
        assert type(app.screen).__name__ == "SampleViewer"
        await pilot.press("escape")
        await keys_go_where_they_say(pilot, "train")

        # 7 Compare, then after exporting the LoRA into a folder
        await pilot.press("7")
        await pilot.pause(0.3)  # (the Train step's reader runs on: no settle)
        await keys_go_where_they_say(pilot, "compare")
        await pilot.press("e")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExportDialog"
        await pilot.press(*str(tmp_path / "loras"), "enter")
        await wait_for(pilot, lambda: (tmp_path / "loras" / "marisa.safetensors").is_file(), what="the export")
        await pilot.pause(0.3)  # (the Train step's reader runs on: no settle)
        await keys_go_where_they_say(pilot, "compare")


async def test_a_form_to_fill_first_takes_the_cursor_and_the_field_keys_say_how_to_leave(wizard_project):
    project = wizard_project("fresh", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("2")  # Fetch with no tags yet: a form to fill first
        await pilot.pause()
        tags = app.screen.query_one("#tags", Input)
        assert app.screen.focused is tags
        footer = screen_text(app).splitlines()[-1]
        assert "esc Leave field" in footer and "F1 Help" in footer and "? Help" not in footer
        await pilot.press(*"solo3")  # in a field, digits are text (? too, except where it cannot be: tags)
        assert tags.value == "solo3" and step_of(app) == "fetch"
        await pilot.press("f1")  # F1 is help in a field too
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")  # and closes it
        await pilot.pause()
        assert app.screen.focused is tags
        await pilot.press("escape")  # leaves the field, stays on the step
        assert step_of(app) == "fetch" and app.screen.focused is None
        footer = screen_text(app).splitlines()[-1]  # ? is help again, and tab leads back into the form
        assert ("? Help" in footer or "? more keys" in footer) and "tab Edit search" in footer
        await pilot.press("3")
        assert step_of(app) == "review" and tags.value == "solo3"
        await pilot.press("2")
        await pilot.pause()
        assert app.screen.focused is None  # a filled form on the next visit


async def test_f1_is_help_in_a_dialog(wizard_project):
    project = wizard_project("p", images=2)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen.summary is not None, what="the tag table")
        await pilot.press("t")
        await pilot.pause()
        dialog = app.screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "Trigger word" in flat(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is dialog  # help closed, the dialog and its field are still there
        await pilot.press("escape")
        await pilot.pause()
        assert step_of(app) == "tags"
