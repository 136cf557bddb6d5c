"""Snapshots of the main screens at 80×24, as plain text (tests/snapshots/wizard/*.txt).

Deterministic: HOME is the test's folder (paths read ~/...), runs have fixed timestamps, the GPU
is a fixed nvidia-smi, the cursor does not blink. After a deliberate change to a screen, rewrite
them with TUI_LORA_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from textual.widgets import Input

from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from wizard_support import (  # noqa: F401 - fixtures
    assert_snapshot, flat, gpu_12gb, home, run, screen_text, settle, wait_for, wizard_project, write_finished_run,
)


async def test_start_screen(wizard_project):
    trained = wizard_project("marisa", images=12)
    write_finished_run(trained)
    wizard_project("style-test", images=0, preset="sdxl-style", trigger="")
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        assert_snapshot(app, "start")


async def test_new_project_form(home):
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await pilot.press("n")
        await pilot.press(*"loras/reimu")
        await settle(pilot)
        assert_snapshot(app, "new_project")


async def test_project_screen(wizard_project):
    project = wizard_project("marisa", images=12)
    write_finished_run(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        assert_snapshot(app, "project")


async def test_steps_screen_with_an_error(wizard_project, gpu_12gb):
    project = wizard_project("marisa", images=24)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("5")
        await settle(pilot)
        app.screen.query_one("#dim", Input).focus()
        await pilot.press("ctrl+u", *"32", "enter")
        app.screen.query_one("#unet_lr", Input).focus()
        await pilot.press("ctrl+u", *"fast")
        await settle(pilot)
        assert_snapshot(app, "steps")


async def open_train(pilot) -> None:
    await pilot.press("6")
    await wait_for(pilot, lambda: pilot.app.screen.snapshot is not None, what="the first snapshot")
    await pilot.pause()


async def test_train_screen_after_a_run(wizard_project):
    project = wizard_project("marisa", images=12)
    write_finished_run(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        assert_snapshot(app, "train")


async def test_train_screen_with_a_stopped_run(wizard_project):
    """A run stopped halfway with its resume point: the keys to resume or start over, and what r does."""
    import json

    from tui_lora.core.train.record import RunRecord, write_record

    project = wizard_project("marisa", images=12)
    write_finished_run(project)
    lines = project.events_path.read_text().splitlines()
    half = next(i for i, line in enumerate(lines) if '"step": 21,' in line)
    project.events_path.write_text("\n".join(lines[:half]) + "\n")  # steps 1-20, saves of epochs 1 and 2
    project.state_dir.mkdir(exist_ok=True)
    (project.state_dir / "checkpoint-00000020.pt").write_bytes(b"x")
    write_record(project, RunRecord(status="stopped", step=20, epoch=2, total_steps=40, epochs=4,
                                    checkpoint="checkpoint-00000020.pt", message="Training stopped at step 20."))
    assert json.loads(lines[half])["step"] == 21
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        assert_snapshot(app, "train_stopped")
        await pilot.press("1")  # the Project screen says the same, with the way back
        await wait_for(pilot, lambda: "stopped at step 20/40; r on 6 Train resumes from step 20" in flat(app),
                       what="the project's training line")
        assert "6 Train: resume the run (r) or start over (s)." in flat(app)


async def test_help_panel(wizard_project):
    project = wizard_project("marisa", images=12)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert_snapshot(app, "help_project")


async def test_fetch_screen_with_a_preview(wizard_project, booru_server):
    project = wizard_project("marisa", images=12)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("2")
        await pilot.pause()
        app.screen.query_one("#base_url", Input).value = booru_server.base_url("safebooru")
        app.screen.query_one("#tags", Input).value = "hakurei_reimu solo"
        app.screen.query_one("#min_score", Input).value = "5"
        await wait_for(pilot, lambda: "posts match" in screen_text(app), what="the count")
        port = booru_server.url.rsplit(":", 1)[1]
        assert_snapshot(app, "fetch", replace={port: "PORT"})


async def test_tags_screen_with_junk_and_a_long_caption(wizard_project):
    project = wizard_project("marisa", images=12)
    folder = project.concepts()[0].path
    (folder / "img_0003.txt").write_text("ohwx, " + ", ".join(f"very long descriptive tag number {i}"
                                                             for i in range(20)) + ", highres")
    project.set("training.max_token_length", 75)
    project.save()
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen.summary is not None, what="the table")
        await pilot.pause()
        assert_snapshot(app, "tags")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Help: Tags" in screen_text(app), what="the help")
        assert_snapshot(app, "help_tags")
