"""A sweep end to end on the tiny model, through the real CLI: a 2×2 sweep runs detached, `tui-lora status`
shows every variant, `tui-lora stop` stops the running one saving its state, `sweep --resume` leaves the
finished variants byte for byte as they were and finishes the rest; each variant's file carries its own
dim and learning rate; a variant trained on the shared model equals the same settings trained alone;
a failing variant is recorded and the others go on; --gpus 2 --device cpu runs two worker processes."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import cli_env
from tui_lora.core import joblock
from tui_lora.core.events import read_events
from tui_lora.core.sweep import VariantProject, sweep_status
from tui_lora.core.train.run import train_project
from support.train import make_train_project, sigterm_pending, torch_threads

# 2 images, batch 1, 6 epochs: 12 steps per variant of a fraction of a second; a file every 2 epochs.
SETTINGS = {"training.train_batch_size": 1, "training.max_train_epochs": 6, "output.save_every_n_epochs": 2,
            "output.save_precision": "float", "training.lr_scheduler": "cosine"}
VARY = ["--vary", "training.unet_lr=1e-4,5e-4", "--vary", "network.network_dim=2,4"]
LABELS = ["lr1e-4_dim2", "lr1e-4_dim4", "lr5e-4_dim2", "lr5e-4_dim4"]


def env():
    e = cli_env()
    e["OMP_NUM_THREADS"] = "1"
    return e


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tui_lora", *map(str, args)], capture_output=True, text=True,
                          env=env(), timeout=timeout)


def wait_for(cond, what, timeout=240):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def status(project) -> dict:
    r = cli("status", project.root, "--json")
    data = json.loads(r.stdout)
    assert data["job"] == "sweep"
    # the exit code says the sweep's state, as for one run (README's table)
    assert r.returncode == {"finished": 0, "failed": 1, "stopped": 3, "running": 5}[data["sweep"]["state"]], r.stderr
    return data["sweep"]


def steps(project, label) -> int:
    path = VariantProject.of(project, label).events_path
    return max([e["step"] for e in read_events(path) if e["event"] == "step"], default=0)


def files_of(project, label) -> dict:
    out = VariantProject.of(project, label).output_dir
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(out.glob("*.safetensors"))}


def meta(path) -> dict:
    with safe_open(str(path), "pt") as fh:
        return dict(fh.metadata())


def test_detached_sweep_stop_resume_and_the_variants_files(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings=SETTINGS)
    root = project.root

    r = cli("sweep", root, *VARY, "--detach", "--device", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["detached"] and [v["label"] for v in job["variants"]] == LABELS
    assert joblock.process_alive(job["pid"]) and os.getsid(job["pid"]) == job["pid"]
    # a training or a second sweep is refused while the sweep runs
    r = cli("train", root)
    assert r.returncode == 2 and "already running in the background" in r.stderr
    r = cli("sweep", root, *VARY)
    assert r.returncode == 2 and "already running" in r.stderr

    wait_for(lambda: steps(project, LABELS[1]) >= 1, "the second variant's first step")
    # The variant's 12 steps take less than the checks below under load: the sweep is frozen (SIGSTOP)
    # until `stop`'s SIGTERM is pending, so the stop always lands in the second variant.
    os.killpg(job["pid"], signal.SIGSTOP)
    try:
        st = status(project)
        assert st["state"] == "running" and st["done"] == 1 and st["running"] == 1 and st["queued"] == 2
        states = [(v["label"], v["state"]) for v in st["variants"]]
        assert states == [(LABELS[0], "done"), (LABELS[1], "running"), (LABELS[2], "queued"), (LABELS[3], "queued")]
        r = cli("status", root)
        assert "sweep running in the background" in r.stdout and f"{LABELS[1]}  running step" in r.stdout

        # stop: the running variant saves its LoRA and its state; the rest stay queued
        stopper = subprocess.Popen([sys.executable, "-m", "tui_lora", "stop", str(root), "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        wait_for(lambda: sigterm_pending(job["pid"]) or stopper.poll() is not None, "the stop's signal")
    finally:
        os.killpg(job["pid"], signal.SIGCONT)
    out, err = stopper.communicate(timeout=300)
    assert stopper.returncode == 0, err
    stop = json.loads(out)
    assert stop["was_running"] and stop["stopped"] and stop["job"] == "sweep"
    assert not joblock.process_alive(job["pid"]) and not joblock.lock_path(project).exists()
    st = status(project)
    assert st["state"] == "stopped" and [v["state"] for v in st["variants"]] == ["done", "stopped", "queued", "queued"]
    second = st["variants"][1]
    assert second["resumable"] and 0 < second["step"] < 12 and "resumes from step" in second["message"]
    view = VariantProject.of(project, LABELS[1])
    # its LoRA as it was at the stop: a -stepN file, or the epoch's file when it stopped at an epoch's end
    saved = [e for e in read_events(view.events_path) if e["event"] == "save" and e["step"] == second["step"]]
    assert saved and all(Path(e["path"]).is_file() for e in saved)
    r = cli("status", root)
    assert "sweep stopped" in r.stdout and f"tui-lora sweep {root} --resume" in r.stdout
    # a new sweep is refused while this one waits to be resumed
    r = cli("sweep", root, "--vary", "training.unet_lr=1e-3,2e-3")
    assert r.returncode == 2 and "has a stopped sweep (1 of 4 variants done)" in r.stderr
    finished = files_of(project, LABELS[0])
    assert set(finished) == {"p-lr1e-4_dim2-000002.safetensors", "p-lr1e-4_dim2-000004.safetensors",
                             "p-lr1e-4_dim2.safetensors"}

    # --resume: the finished variant is skipped (its files byte for byte and untouched), the stopped one
    # continues from its state, the queued ones train
    time.sleep(0.05)  # any rewrite of a finished file would show in its mtime
    r = cli("sweep", root, "--resume", "--detach", "--device", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    pid = json.loads(r.stdout)["pid"]
    wait_for(lambda: not joblock.process_alive(pid), "the resumed sweep to end")
    st = status(project)
    assert st["state"] == "finished" and st["done"] == 4, st
    assert files_of(project, LABELS[0]) == finished
    starts = [e for e in read_events(view.events_path) if e["event"] == "start"]
    assert len(starts) == 2  # the stopped variant resumed (a second start in its events), not restarted
    sweep_log = (root / "logs" / "sweep" / "sweep.log").read_text()
    assert "reusing the cached latents of 2 images" in sweep_log  # encoded once per process, not per variant
    assert f"variant 2/4 {LABELS[1]} (lr 1e-4, dim 4): resuming" in sweep_log
    assert f"variant 1/4 {LABELS[0]}" not in sweep_log.split("--job-child")[-1]  # the resumed run skipped it

    # each variant's files say its own settings in kohya's metadata
    for label in LABELS:
        v = VariantProject.of(project, label)
        m = meta(v.final_file())
        lr, dim = (1e-4 if "lr1e-4" in label else 5e-4), (2 if label.endswith("dim2") else 4)
        assert (float(m["ss_unet_lr"]), int(m["ss_network_dim"])) == (lr, dim), label
        assert m["ss_output_name"] == f"p-{label}" and m["ss_epoch"] == "6"
        assert (v.logs_dir / "train.log").is_file() and read_events(v.events_path)[-1]["event"] == "done"
    assert not project.final_file().exists()  # the project's own output is not touched

    # the stopped-and-resumed variant (trained on the model the first variant had used) equals the same
    # settings trained alone, without a stop
    ref = make_train_project(tmp_path / "ref", tiny_sd15, images=2, settings=SETTINGS)
    with torch_threads(1):
        train_project(ref, overrides=["training.unet_lr=0.0001", "network.network_dim=4"], stream=io.StringIO(),
                      device="cpu")
    a, b = load_file(str(view.final_file())), load_file(str(ref.final_file()))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # everything done: nothing to resume; a new sweep sets the old one aside
    r = cli("sweep", root, "--resume")
    assert r.returncode == 2 and "already done" in r.stderr


def test_a_failing_variant_is_recorded_and_the_others_go_on(tmp_path, tiny_sd15):
    # unet_lr 0 with the text encoder off trains nothing: that variant fails at its start, the other trains
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={
        "network.network_train_unet_only": True, "training.max_train_epochs": 1})
    r = cli("sweep", project.root, "--vary", "training.unet_lr=0,1e-4", "--device", "cpu", "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert list(data["failed"]) == ["lr0"] and data["failed"]["lr0"].startswith("Every learning rate is 0")
    assert data["done"] == ["lr1e-4"]
    # the model was loaded once (the failed variant's load served the next) and the latents cached once
    assert data["model_loads"] == 1 and data["latent_builds"] == 1
    st = sweep_status(project)
    assert [(v.label, v.state) for v in st.variants] == [("lr0", "failed"), ("lr1e-4", "done")]
    assert str(st.variants[0].message).startswith("Every learning rate is 0") and st.state == "failed"
    r = cli("status", project.root)
    assert "lr0     failed: Every learning rate is 0" in r.stdout
    # --resume tries the failed variant again (a fixed cause, e.g. memory freed, lets it train)
    r = cli("sweep", project.root, "--resume", "--device", "cpu")
    assert r.returncode == 1 and "1 variant done, 1 failed" in r.stdout
    assert "failed: lr0: Every learning rate is 0" in r.stdout


@pytest.mark.slow
def test_two_workers_on_the_cpu(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={"training.max_train_epochs": 2})
    r = cli("sweep", project.root, "--vary", "network.network_dim=2,4,8", "--gpus", "2", "--device", "cpu",
            "--json", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    assert sorted(result["done"]) == ["dim2", "dim4", "dim8"] and not result["failed"]
    assert "in worker 2" in r.stderr  # two at a time, the third queued
    st = sweep_status(project)
    assert st.state == "finished"
    for v in st.variants:
        view = VariantProject.of(project, v.label)
        assert int(meta(view.final_file())["ss_network_dim"]) == int(v.label[3:])
        log = view.train_log_path.read_text()
        assert "variant" in log and "done:" in log  # the worker's own output went to the variant's log
