"""End-to-end: the real `tui-lora` command in a subprocess."""

import json
import subprocess
import sys

import pytest

from tui_lora.cli import COMMANDS


def test_top_level_help(run_cli):
    r = run_cli("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_every_subcommand(run_cli, name):
    r = run_cli(name, "--help")
    assert r.returncode == 0, r.stderr
    assert "--json" in r.stdout


def test_new_scripted_then_steps(run_cli, tmp_path):
    proj = tmp_path / "mia"
    r = run_cli("new", proj, "--preset", "sd15-anime-character", "--base-model",
                "stable-diffusion-v1-5/stable-diffusion-v1-5", "--trigger", "miaxyz")
    assert r.returncode == 0, r.stderr
    assert (proj / "project.toml").is_file() and (proj / "dataset" / "10_miaxyz").is_dir()
    from tui_lora.demo.datasets import write_dataset

    write_dataset(proj / "dataset" / "10_miaxyz", 20, trigger="miaxyz")
    r = run_cli("steps", proj)
    assert r.returncode == 0, r.stderr
    assert "20 images × 10 repeats × 10 epochs ÷ batch 2 = 1000 steps" in r.stdout
    r = run_cli("steps", proj, "--json", "--batch", "4")
    data = json.loads(r.stdout)
    assert data["total_steps"] == 500 and data["batch_size"] == 4


def test_new_json(run_cli, tmp_path):
    r = run_cli("new", tmp_path / "p", "--preset", "sdxl-style", "--base-model",
                "stabilityai/stable-diffusion-xl-base-1.0", "--json")
    data = json.loads(r.stdout)
    assert data["family"] == "sdxl" and data["repeats"] == 3


def test_new_without_a_terminal_lists_missing_flags(run_cli, tmp_path):
    r = run_cli("new", tmp_path / "p")
    assert r.returncode == 2
    assert "Missing --preset and --base-model" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "p").exists()


def test_steps_without_a_project(run_cli):
    r = run_cli("steps", "--images", "20", "--repeats", "5", "--epochs", "10", "--batch", "4")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == "20 images × 5 repeats × 10 epochs ÷ batch 4 = 250 steps"
    r = run_cli("steps", "--images", "3", "--repeats", "5", "--epochs", "10", "--batch", "4", "--json")
    data = json.loads(r.stdout)
    assert {i["code"] for i in data["issues"]} >= {"too_few_images"}


@pytest.mark.parametrize("args,fragment", [
    (["new", "{tmp}/p", "--preset", "nope", "--base-model", "a/b"], "Unknown preset 'nope'"),
    (["new", "{tmp}/p", "--preset", "sd15-style", "--base-model", "/no/such/model.safetensors"], "does not exist"),
    (["new", "{tmp}", "--preset", "sd15-style", "--base-model", "a/b"], "not empty"),
    (["steps", "--images", "abc"], "'abc' is not a whole number"),
    (["steps", "--images", "10", "--batch", "-1"], "too small"),
    (["steps"], "Give a project folder"),
    (["steps", "{tmp}/none"], "does not exist"),
    (["train", "{tmp}/none"], "does not exist"),
    (["nosuchcommand"], "invalid choice"),
])
def test_bad_input_is_one_sentence_exit_2(run_cli, tmp_path, args, fragment):
    (tmp_path / "occupied.txt").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = run_cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_bad_override_on_train(run_cli, make_project):
    proj = make_project(images=2)
    r = run_cli("train", proj.root, "--set", "training.unet_rl=1e-4")
    assert r.returncode == 2
    assert "did you mean training.unet_lr" in r.stderr
    r = run_cli("train", proj.root, "--set", "training.unet_lr=fast", "--json")
    assert r.returncode == 2 and "is not a number" in json.loads(r.stdout)["error"]


def test_python_dash_m_and_version(run_cli):
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("tui-lora ")


def test_choices_kept_light_for_help_match_their_sources():
    """Two commands list choices as literals so `tui-lora --help` does not import the schema or the
    comparison package; they must stay what those define."""
    from tui_lora.commands import compare, steps
    from tui_lora.core.compare.run import SHEETS
    from tui_lora.core.settings import key

    assert compare.SHEETS == SHEETS
    assert steps.FAMILIES == key("project.family").choices and steps.FAMILIES[0] == key("project.family").default
    assert steps.SUBJECTS == key("project.subject").choices


def test_help_imports_neither_the_schema_nor_the_comparison():
    code = ("import sys, contextlib, io\nfrom tui_lora.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main(['--help'])\n"
            "print(sorted(m for m in sys.modules if m in ('tui_lora.core.settings', 'tui_lora.core.compare')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
