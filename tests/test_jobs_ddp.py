"""--gpus N: accelerate's launcher runs N processes (DDP; here 2 CPU processes over gloo) that train
the same LoRA as one process with the same global batch, and only the main one writes."""

import io
import json
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import cli_env
from tui_lora.core.events import read_events
from tui_lora.core.jobs import job_status
from tui_lora.core.train.run import train_project
from support.train import make_train_project, torch_threads

# 3 images in one bucket: each epoch has a full global batch of 2 and a short one of 1, which
# leaves the second process without a row (it must still join the gradient sync).
SETTINGS = {"training.max_train_epochs": 2, "output.save_precision": "float", "dataset.flip_aug": True,
            "training.text_encoder_lr": 1e-4, "training.lr_scheduler": "constant"}


def test_two_processes_train_the_same_lora_as_one(tmp_path, tiny_sd15):
    ddp = make_train_project(tmp_path / "ddp", tiny_sd15, images=3, settings={**SETTINGS, "training.train_batch_size": 1})
    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run([sys.executable, "-m", "tui_lora", "train", str(ddp.root), "--gpus", "2", "--device", "cpu",
                        "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)  # stdout holds only the result, though the workers printed progress
    assert result["steps"] == 4 and result["path"] == str(ddp.final_file()) and not result["stopped"]

    one = make_train_project(tmp_path / "one", tiny_sd15, images=3, settings={**SETTINGS, "training.train_batch_size": 2})
    with torch_threads(1):
        train_project(one, stream=io.StringIO())
    a, b = load_file(str(ddp.final_file())), load_file(str(one.final_file()))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
    moved = max(float(b[k].abs().max()) for k in b if "lora_up" in k)
    assert moved > 1e-4  # the LoRA did train, so the comparison means something
    with safe_open(str(ddp.final_file()), "pt") as f:
        meta = f.metadata()
    assert meta["ss_total_batch_size"] == "2" and meta["ss_batch_size_per_device"] == "1"

    # only the main process wrote: one start, each step once, each save once
    events = read_events(ddp.events_path)
    assert [e["event"] for e in events].count("start") == 1
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3, 4]
    assert [e["path"] for e in events if e["event"] == "save"] == [str(ddp.epoch_file(1)), str(ddp.final_file())]
    assert job_status(ddp).state == "finished"
