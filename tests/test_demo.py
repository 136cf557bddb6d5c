"""`tui-lora demo`: the CLI builds a valid DEMO project (reused on a second run, never over someone's
folder), and the wizard opened on it walks every live step — Fetch against the in-process fake
booru, Review, Tags with the tiny tagger, Steps, Train — labelled DEMO throughout."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import cli_env
from tui_lora.core.dataset.scan import scan
from tui_lora.core.plan import plan_for_project
from tui_lora.core.project import Project
from tui_lora.demo import project as demo
from tui_lora.tui.app import WizardApp
from tui_lora.tui.steps.plan_view import PlanView
from wizard_support import flat, home, run, screen_text, wait_for  # noqa: F401 - fixtures


def demo_cli(*args, config_dir) -> subprocess.CompletedProcess:
    env = {**cli_env(), "TUI_LORA_CONFIG_DIR": str(config_dir)}
    return subprocess.run([sys.executable, "-m", "tui_lora", "demo", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One demo built by the real CLI for the module: (root, its --json answer, seconds it took)."""
    base = tmp_path_factory.mktemp("demo")
    start = time.perf_counter()
    r = demo_cli(base / "demo", "--no-open", "--json", config_dir=base / "cfg")
    seconds = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    return base / "demo", json.loads(r.stdout), seconds


def test_demo_no_open_builds_a_valid_project(built):
    root, data, seconds = built
    assert seconds < 120  # about 15 s here: a tiny model, a tiny tagger and 16 small images
    assert data["demo"] is True and data["reused"] is False and data["dir"] == str(root)
    project = Project.load(root)
    assert demo.is_demo(root) and project.name == "tui-lora-demo"
    assert project.get("model.pretrained_model_name_or_path") == str(root / "models" / "tiny-sd15")
    assert (root / "models" / "tiny-sd15" / "model_index.json").is_file()
    assert project.get("tags.tagger_model") == str(root / "models" / "tiny-wd14")
    assert (root / "models" / "tiny-wd14" / "model.onnx").is_file()
    assert [c.folder for c in project.concepts()] == ["2_tuidemo"]
    s = project.settings
    assert s["dataset"]["resolution"] == 64 and s["dataset"]["cache_latents"] is True
    assert s["training"]["train_batch_size"] == 2 and s["training"]["mixed_precision"] == "no"
    assert s["output"]["save_every_n_epochs"] == 1
    plan = plan_for_project(project)
    assert plan.total_steps <= 150  # about a minute of CPU training
    report = scan(project)
    codes = {i.code.value for r in report.records for i in r.issues}
    assert {"corrupt", "too_small", "transparency"} <= codes  # something to see in Review
    assert len(report.images) == 16


def test_demo_reuses_its_folder_and_refuses_anyone_elses(built, tmp_path):
    root, _, _ = built
    r = demo_cli(root, "--no-open", "--json", config_dir=tmp_path / "cfg")
    assert r.returncode == 0 and json.loads(r.stdout)["reused"] is True
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = demo_cli(mine, "--no-open", config_dir=tmp_path / "cfg")
    assert r.returncode == 2 and "is not empty and is not a tui-lora demo" in r.stderr
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1
    r = demo_cli(tmp_path / "x", "--json", config_dir=tmp_path / "cfg")  # no terminal, no --no-open
    assert r.returncode == 2 and "--no-open" in json.loads(r.stdout)["error"]


def test_only_a_demo_folder_is_ever_rebuilt(tmp_path):
    old = tmp_path / "old-demo"
    old.mkdir()
    (old / demo.MARKER).write_text(json.dumps({"demo": True, "complete": False}))
    (old / "leftover").write_text("x")
    assert demo.prepare_folder(old, reset=False) is False and not old.exists()  # unfinished: rebuilt
    assert demo.prepare_folder(tmp_path / "new", reset=False) is False


async def test_wizard_walks_every_live_step_of_the_demo(built, home):
    root, _, _ = built
    copy = home / "demo"
    shutil.copytree(root, copy)
    project = Project.load(copy)
    app = WizardApp(project, frozen=True)
    async with run(app) as pilot:
        await wait_for(pilot, lambda: "DEMO PROJECT" in flat(app), what="the banner")
        assert app.is_demo and screen_text(app).startswith(" DEMO ")
        await wait_for(pilot, lambda: "16 images, 16 captions, 2 repeats" in flat(app), what="the dataset")

        await pilot.press("2")  # Fetch: pre-filled, searching the in-process fake booru
        await wait_for(pilot, lambda: 'posts match "hakurei_reimu solo"' in flat(app), timeout=15, what="the count")
        assert "127.0.0.1" in app.screen.query_one("#base_url").value
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: "Downloaded 10 new images" in flat(app), timeout=20, what="the download")

        await pilot.press("ctrl+n")  # Review
        review = app.screen
        assert review.STEP_ID == "review"
        await wait_for(pilot, lambda: review.data is not None and review.data.dedupe is not None and not review.busy,
                       timeout=20, what="the review")
        assert "26 images · 3 with problems · 1 duplicate group" in flat(app)

        await pilot.press("ctrl+n")  # Tags: the tiny WD14 tagger set in the project
        tags = app.screen
        assert tags.STEP_ID == "tags"
        await wait_for(pilot, lambda: tags.summary is not None, what="the tag table")
        await pilot.press("r")
        await wait_for(pilot, lambda: "Tagged 25 of 26 images" in flat(app), timeout=30, what="the tagger")
        await wait_for(pilot, lambda: not tags.busy, what="the tagger to finish")

        await pilot.press("ctrl+n")  # Steps
        plan = lambda: " ".join(app.screen.query_one(PlanView).text.plain.split())  # noqa: E731 - local helper
        await wait_for(pilot, lambda: "26 images × 2 repeats × 8 epochs ÷ batch 2 = 208 steps" in plan(),
                       what="the plan")
        await pilot.press("ctrl+n")  # Train
        await wait_for(pilot, lambda: "No training run yet" in flat(app), what="the train screen")
        assert screen_text(app).startswith(" DEMO ")

        await pilot.press("escape", "escape", "escape", "escape", "escape", "escape")
        await wait_for(pilot, lambda: "Recent projects" in flat(app) and "DEMO SD1.5" in flat(app),
                       what="the start screen")
        assert not app.is_demo and not screen_text(app).startswith(" DEMO ")


def test_demo_modules_keep_torch_out_of_the_wizard():
    code = ("import tui_lora.commands.demo, tui_lora.demo.project, tui_lora.tui.demo_session, "
            "tui_lora.tui.review.screen\nimport sys; print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(),
                         check=True).stdout.split()
    assert not [m for m in ("torch", "diffusers", "transformers", "onnx", "onnxruntime") if m in out]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
