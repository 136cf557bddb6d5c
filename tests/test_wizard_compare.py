"""Pilot tests of the Compare step on a tiny project with real LoRA epoch files: the grid rendered by
the real `tui-lora compare` child process and shown with its labels, a cell zoomed, the winner picked
into output/<name>-best.safetensors, a render cancelled, the no-epochs sentence, an earlier grid
reopened. Rendering never imports torch into the wizard (test_import_hygiene covers the modules)."""

from __future__ import annotations

import shutil

import pytest
from safetensors import safe_open
from wizard_support import assert_snapshot, flat, home, run, screen_text, settle, wait_for  # noqa: F401 - fixtures

from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.confirm import ConfirmScreen
from tui_lora.tui.compare.compare_zoom import CompareZoom
from tui_lora.tui.compare.screen import CompareScreen

STAMP = "compare-20250102-030405"


@pytest.fixture(scope="module")
def lora_template(tmp_path_factory, tiny_sd15):
    """A project with epoch files 1, 2 and the final file (epoch 3), and one earlier 1x1 grid rendered
    in-process at a fixed name (the 'earlier grid' and the snapshot's list)."""
    from tui_lora.core.compare import plan_compare, run_compare
    from tui_lora.core.sample_prompts import SamplePrompt
    from support.lora_files import make_lora_files
    from support.train import torch_threads

    with torch_threads(1):
        project = make_lora_files(tmp_path_factory.mktemp("cmpw") / "proj", tiny_sd15, "sd15")
        sp = SamplePrompt("ohwx, smile", width=64, height=64, steps=2, seed=5, sampler="ddim")
        plan = plan_compare(project, sp, epochs=[2], weights=[0.8], out=project.samples_dir / f"{STAMP}.png")
        result = run_compare(project, plan, device="cpu")
    assert not result.cancelled
    return project.root


@pytest.fixture
def lora_project(lora_template, home, monkeypatch):
    """A copy under ~ (so paths read ~/proj), with the children on one thread each."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root = home / "proj"
    shutil.copytree(lora_template, root)
    return Project.load(root)


async def open_compare(pilot) -> CompareScreen:
    await pilot.press("7")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen


def set_fields(screen, **values: str) -> None:
    from textual.widgets import Input

    for name, value in values.items():
        screen.query_one(f"#{name}", Input).value = value


def note(screen, name: str) -> str:
    """The sentence under a field (its error, or its hint)."""
    from textual.widgets import Static

    return str(screen.query_one(f"#field-{name} .field-note", Static).render())


def samples(project) -> list[str]:
    return sorted(p.name for p in project.samples_dir.iterdir())


async def test_the_form_its_defaults_and_the_earlier_grids(lora_project):
    app = WizardApp(lora_project, frozen=True)
    async with run(app) as pilot:
        await open_compare(pilot)
        await wait_for(pilot, lambda: "1 epoch × 1 weight" in flat(app), what="the earlier grid")
        text = flat(app)
        assert "Epochs 1,2,3" in text and "Weights 0.6,0.8,1.0" in text and "Seeds 42,43" in text
        assert "20 images (no LoRA + epochs × weights, 2 prompt × seed pictures each); ^r renders the grid." in text
        assert "^r Render" in text
        assert_snapshot(app, "compare")
        await pilot.press(*["tab"] * 7, "enter")  # through the six fields to the list, reopen it: no rendering
        await wait_for(pilot, lambda: "epoch 2 at weight 0.8 · proj-000002.safetensors" in flat(app), what="grid")
        assert_snapshot(app, "compare_grid")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "z or enter zooms into a cell" in flat(app), what="the help")
        body = app.screen._body().plain
        assert "Epochs (rows)" in body and "Weights (columns)" in body and "overtrained" in body
        assert "p          Pick winner" in body


async def test_bad_fields_say_what_to_write_and_render_nothing(lora_project):
    app = WizardApp(lora_project, frozen=True)
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        set_fields(screen, epochs="1,9", weights="0.5,abc", seed="x", steps="0", prompt="")
        await pilot.pause()
        assert note(screen, "epochs") == "There is no file for epoch 9; the saved epochs are 1, 2, 3 (final)."
        assert note(screen, "weights") == "Write weights separated by commas, e.g. 0.6,0.8,1.0."
        assert note(screen, "seed").startswith("Seeds are whole numbers separated by commas, e.g. 42,43")
        assert note(screen, "steps") == "Steps go from 1 to 1000; 20-30 is usual."
        assert note(screen, "prompt") == "Type a prompt with the trigger word ohwx."
        assert "Fix the field marked in red to render." in flat(app)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: flat(app).count("Type a prompt with the trigger word ohwx.") == 2,
                       what="the notification")
        assert not screen.rendering and screen._child is None
        set_fields(screen, prompt="smile", epochs="", weights="3")
        await pilot.pause()
        assert note(screen, "epochs") == "Every saved epoch: 1, 2, 3 (final)."
        assert note(screen, "weights") == "Weights go from -2 to 2 (1.0 is full strength)."
        assert note(screen, "prompt") == "Without the trigger word ohwx the LoRA may barely show."


async def test_render_a_grid_through_the_child_then_zoom(lora_project):
    app = WizardApp(lora_project, frozen=True)
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        set_fields(screen, prompt="ohwx, smile", epochs="1,3", weights="0.5,1", steps="2", seed="7")
        await pilot.pause()
        assert "5 images" in flat(app)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.showing_grid, timeout=120, what="the rendered grid")
        await settle(pilot)
        text = flat(app)
        for label in ("no LoRA", "weight 0.5", "weight 1", "epoch 1", "epoch 3 (final)"):
            assert label in text, label
        assert "seed 7 · 2 steps · ohwx, smile" in text and "Grid saved:" in text
        app.clear_notifications()
        assert screen.grid_view.label_line().plain == "epoch 1 at weight 0.5 · proj-000001.safetensors · seed 7"
        grids = [n for n in samples(lora_project) if not n.startswith(STAMP)]
        assert len(grids) == 2 and {n.rsplit(".", 1)[1] for n in grids} == {"png", "json"}
        await pilot.press("down", "right", "z")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareZoom), what="the zoom")
        text = flat(app)
        assert "epoch 3 (final) at weight 1 (2/2, 3/3)" in text and "proj.safetensors · seed 7 · 2 steps" in text
        await pilot.press("left", "left")
        assert "no LoRA · the base model alone (2/2, 1/3)" in flat(app)
        await pilot.press("escape")
        assert "epoch 3 (final) row · no LoRA" in flat(app)  # the grid's cursor followed the zoom
        await pilot.press("escape")  # back to the form: the new grid heads the list
        await wait_for(pilot, lambda: "2 epochs × 2 weights · seed 7 · ohwx, smile" in flat(app), what="the list")


async def test_cancel_while_rendering_leaves_no_grid(lora_project):
    app = WizardApp(lora_project, frozen=True)
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        set_fields(screen, prompt="ohwx --w 256 --h 256", epochs="1", weights="1", steps="1000")  # minutes of work
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "1/4: no LoRA (2 pictures)" in flat(app), timeout=60, what="the first cell")
        assert "Cancel render" in flat(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Cancelled; no grid was written." in flat(app), timeout=60, what="the cancel")
        assert not screen.rendering and not screen.showing_grid
        assert samples(lora_project) == [f"{STAMP}.json", f"{STAMP}.png"]
        await wait_for(pilot, lambda: "^r Render" in flat(app), what="the footer")


async def test_reopen_an_earlier_grid_and_pick_the_winner(lora_project):
    from tui_lora.tui.common import images

    images.set_mode("halfcell")  # pictures drawn as coloured half-blocks, as over SSH
    try:
        app = WizardApp(lora_project, frozen=True)
        async with run(app) as pilot:
            await open_compare(pilot)
            await wait_for(pilot, lambda: "1 epoch × 1 weight" in flat(app), what="the earlier grid")
            await pilot.press(*["tab"] * 7, "enter")  # through the six fields to the list, then open
            await wait_for(pilot, lambda: "epoch 2 at weight 0.8 · proj-000002.safetensors" in flat(app),
                           what="the grid")
            await wait_for(pilot, lambda: "▀" in screen_text(app) or "▄" in screen_text(app), what="the pictures")
            await pilot.press("p")
            best = lora_project.output_dir / "proj-best.safetensors"
            await wait_for(pilot, lambda: "<lora:proj-best:0.8>" in flat(app), timeout=60, what="the pick")
            assert "Kept epoch 2 at weight 0.8 as proj-best.safetensors" in flat(app)
            with safe_open(str(best), "pt") as fh:
                meta = fh.metadata()
            assert meta["ss_tui_lora_best_epoch"] == "2" and meta["ss_tui_lora_best_weight"] == "0.8"
            await pilot.press("p")  # again: the file exists, so it asks first
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            assert "proj-best.safetensors already exists (epoch 2 at weight 0.8). Replace it" in app.screen.question
            await pilot.press("n")
            await pilot.press("left", "p")
            await wait_for(pilot, lambda: "The no-LoRA column is the base model alone" in flat(app), what="refusal")
    finally:
        images._mode = None


async def test_no_saved_epochs_says_train_first(home, tiny_sd15):
    from support.train import make_train_project

    project = make_train_project(home / "fresh", tiny_sd15, images=1)
    app = WizardApp(project, frozen=True)
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        text = flat(app)
        assert "No LoRA files are saved in ~/fresh/output yet: train first (6 Train)" in text
        assert "Prompt" not in text and "Render" not in text
        await pilot.press("ctrl+r")
        assert not screen.rendering


async def test_the_project_screen_suggests_compare(lora_project):
    app = WizardApp(lora_project, frozen=True)
    async with app.run_test(size=(140, 24)) as pilot:  # wide enough for the step bar's legend, were there one
        await wait_for(pilot, lambda: "7 Compare: render the 3 saved LoRA files side by side" in flat(app),
                       what="the suggestion")
        assert "coming" not in flat(app)  # every step is built: no "dim: coming soon", no "next update"


def test_the_child_protocol():
    from tui_lora.core.errors import UserError
    from tui_lora.tui.compare.compare_child import ChildEvent, parse_event, parse_result

    assert parse_event('{"event": "progress", "done": 2, "total": 5, "what": "epoch 1 at weight 1"}\n') == \
        ChildEvent("progress", 2, 5, "epoch 1 at weight 1")
    assert parse_event('{"event": "log", "message": "loading the base model"}') == \
        ChildEvent("log", what="loading the base model")
    assert parse_event("Failed to load CPU gemm_4bit_forward from kernels-community") is None
    assert parse_result('{"grid": "g.png", "index": "g.json"}\n', 0, []) == {"grid": "g.png", "index": "g.json"}
    with pytest.raises(UserError) as e:
        parse_result('{"error": "There is no file for epoch 9.", "exit_code": 2}', 2, [])
    assert e.value.message == "There is no file for epoch 9." and e.value.exit_code == 2
    with pytest.raises(UserError) as e:
        parse_result("", -15, [])
    assert e.value.exit_code == 130
    with pytest.raises(UserError) as e:
        parse_result("", 1, ["Traceback (most recent call last):", "MemoryError"])
    assert "exit code 1: MemoryError" in e.value.message


async def test_the_form_is_remembered_for_the_project(lora_project):
    from tui_lora.core.userconfig import user_config_dir

    app = WizardApp(lora_project, frozen=True)
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        set_fields(screen, prompt="ohwx, wave", negative="lowres", epochs="2", weights="0.5,1.0", seed="7",
                   steps="12")
        await pilot.pause()
        await pilot.press("escape")  # leaving the step (back to Train) saves the form
        await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen), what="the Project step")
    assert (user_config_dir() / "wizard-compare.toml").is_file()
    app = WizardApp(Project.load(lora_project.root), frozen=True)  # the wizard opened again
    async with run(app) as pilot:
        screen = await open_compare(pilot)
        values = screen._values()
        # the typed fields come back; the epochs follow the saved files again
        assert values == {"prompt": "ohwx, wave", "negative": "lowres", "epochs": "1,2,3", "weights": "0.5,1.0",
                          "seed": "7", "steps": "12"}


def test_cells_are_cropped_from_one_decode_and_scaled_to_fit(tmp_path):
    from PIL import Image

    from tui_lora.tui.compare.compare_grids import crop_cell, crop_cells

    grid = Image.new("RGB", (40, 20), "white")
    grid.paste((255, 0, 0), (0, 0, 20, 20))
    grid.paste((0, 0, 255), (20, 0, 40, 20))
    png = tmp_path / "g.png"
    grid.save(png)
    red, blue = crop_cells(png, [(0, 0, 20, 20), (20, 0, 40, 20)], (60, 30))
    assert red.size == blue.size == (30, 30)  # upscaled to fit, aspect kept
    assert red.getpixel((15, 15)) == (255, 0, 0) and blue.getpixel((15, 15)) == (0, 0, 255)
    assert crop_cell(png, (20, 0, 40, 20), (60, 30)).tobytes() == blue.tobytes()
