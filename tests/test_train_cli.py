"""`tui-lora train DIR` end to end, and its bad inputs: one sentence, exit 2, no traceback."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from conftest import cli_env
from tui_lora.cli import main
from tui_lora.core.events import read_events, summarize
from tui_lora.core.joblock import lock_path
from support.train import make_train_project


def run_train(*args, timeout=300):
    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"  # tiny models: one thread beats threads fighting over shared cores
    return subprocess.run([sys.executable, "-m", "tui_lora", "train", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_train_end_to_end_json(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=3, settings={"training.max_train_epochs": 2})
    r = run_train(project.root, "--json", "--set", "output.save_every_n_epochs=1", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)  # stdout holds only the result
    assert result["path"] == str(project.final_file()) and project.final_file().is_file()
    assert result["files"] == [str(project.epoch_file(1)), str(project.final_file())]
    assert result["steps"] == 4 and result["stopped"] is False
    assert "step 4/4" in r.stderr and "Traceback" not in r.stderr
    assert summarize(read_events(project.events_path)).state == "finished"
    # A foreground run keeps logs/train.log too (status and the wizard show it): plain lines, no redraws.
    log = project.train_log_path.read_text(encoding="utf-8")
    assert log.startswith("=== ") and "(foreground)" in log.splitlines()[0]
    assert "training: 4 steps in 2 epochs" in log and "step 4/4" in log and "\r" not in log
    assert "done: 4 steps" in log


def cli(capsys, *args):
    code = main(["train", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("flag,words", [
    (["--resume"], "There is no saved training state to resume"),
    (["--resume", "--restart"], "use one of them"),
    (["--gpus", "2"] if not torch.cuda.is_available() else ["--gpus", "99"], "--gpus"),
    (["--set", "training.unet_rate=1"], "Unknown key training.unet_rate"),
    (["--detach", "--set", "training.unet_rate=1"], "Unknown key training.unet_rate"),
])
def test_refused_flags_and_bad_overrides(capsys, tmp_path, tiny_sd15, flag, words):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1)
    code, _out, err = cli(capsys, project.root, *flag)
    assert code == 2
    assert words in one_sentence(err)


@pytest.mark.parametrize("device,words", [("cuda", "no CUDA GPU is available here"),
                                          ("tpu", "--device tpu is not supported")])
def test_unusable_device(capsys, tmp_path, tiny_sd15, device, words):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        device, words = "cuda:99", "There is no GPU cuda:99"
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1)
    code, _out, err = cli(capsys, project.root, "--device", device)
    assert code == 2 and words in one_sentence(err)


def test_no_images(capsys, tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=0)
    code, _out, err = cli(capsys, project.root)
    assert code == 2 and "The dataset has no images" in one_sentence(err)
    # Refused before anything starts: no run recorded, no lock left, earlier logs not archived.
    assert summarize(read_events(project.events_path)).state == "none"
    assert not (project.root / "logs" / "previous").exists() and not lock_path(project).exists()


def test_unreachable_repo_id(capsys, tmp_path, tiny_sd15, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1)
    project.set("model.pretrained_model_name_or_path", "someone/some-anime-model")
    project.save()
    code, out, err = cli(capsys, project.root, "--json")
    assert code == 2
    data = json.loads(out)
    assert data["exit_code"] == 2 and data["error"].startswith("Cannot download someone/some-anime-model")


def test_model_that_is_not_sd15_or_sdxl(capsys, tmp_path, tiny_sd15):
    flux = tmp_path / "flux-dev.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(1)}, flux)
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1)
    project.set("model.pretrained_model_name_or_path", str(flux))
    project.save()
    code, _out, err = cli(capsys, project.root)
    assert code == 2 and "not an SD1.x or SDXL checkpoint" in one_sentence(err)


def test_help_lists_the_training_flags(run_cli):
    r = run_cli("train", "--help")
    assert r.returncode == 0
    for flag in ("--set", "--detach", "--resume", "--gpus", "--device", "--json"):
        assert flag in r.stdout
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_the_next_step_line_is_a_command_to_copy_as_is(tmp_path, tiny_sd15):
    """After a run, `train` says how to compare: with [sample] prompts compare needs no --prompt; without,
    the line carries a real prompt (never a placeholder a beginner would paste)."""
    from tui_lora.commands.train import _compare_command

    project = make_train_project(tmp_path / "p", tiny_sd15, images=0)
    project.set("sample.prompts", ["ohwx, smile"])
    assert _compare_command(project) == f"tui-lora compare {project.root}"
    project.set("sample.prompts", [])
    assert _compare_command(project) == f'tui-lora compare {project.root} --prompt "ohwx, smile, looking at viewer"'
