"""End to end with the real CLI: a detached training outlives its starter, refuses a second start,
stops gracefully on `tui-lora stop`, survives a kill -9 (stale lock), stops on Ctrl-C, and after
all of that resumes to the same LoRA as a run that was never interrupted."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import cli_env
from tui_lora.core import jobs, joblock
from tui_lora.core.jobrun import StopRequest
from tui_lora.core.train.record import read_record
from tui_lora.core.events import read_events
from tui_lora.core.train.run import train_project
from support.train import make_train_project, torch_threads

SETTINGS = {"training.train_batch_size": 1, "training.max_train_epochs": 12, "training.lr_scheduler": "cosine",
            "dataset.flip_aug": True, "dataset.shuffle_caption": True, "output.save_every_n_epochs": 4,
            "output.save_precision": "float"}  # 5 images: 60 steps of a fraction of a second


def env():
    e = cli_env()
    e["OMP_NUM_THREADS"] = "1"
    return e


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tui_lora", *map(str, args)], capture_output=True, text=True,
                          env=env(), timeout=timeout)


def steps(project) -> int:
    return max([e["step"] for e in read_events(project.events_path) if e["event"] == "step"], default=0)


def wait_for(cond, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def status(project):
    r = cli("status", project.root, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_detach_stop_kill_interrupt_resume(tmp_path, tiny_sd15, ctrl_c):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=5, settings=SETTINGS)
    root = project.root

    # 1. --detach returns at once; the job runs on in its own session after its starter exited
    t0 = time.monotonic()
    r = cli("train", root, "--detach", "--json")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 10
    job = json.loads(r.stdout)
    assert job["detached"] and job["log"] == str(project.train_log_path)
    assert joblock.process_alive(job["pid"]) and os.getsid(job["pid"]) == job["pid"]
    # a second start, foreground or detached, is refused while it runs
    for extra in ([], ["--detach"]):
        r = cli("train", root, *extra)
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        assert f"already running in the background (pid {job['pid']})" in r.stderr and "tui-lora stop" in r.stderr
    wait_for(lambda: steps(project) >= 1, "the first step")
    st = status(project)
    assert st["state"] == "running" and st["pid"] == job["pid"] and st["total_steps"] == 60 and st["step"] >= 1

    # `tui-lora stop`: the job saves the LoRA and the state, then exits
    r = cli("stop", root, "--json")
    assert r.returncode == 0, r.stderr
    stop = json.loads(r.stdout)
    assert stop["was_running"] and stop["stopped"] and not stop["forced"]
    assert stop["state"] == "stopped" and stop["resumable"] and stop["resume_step"] == stop["step"] < 60
    first_stop = stop["step"]
    assert not joblock.process_alive(job["pid"]) and not joblock.lock_path(project).exists()
    assert (project.output_dir / f"{project.output_name}-step{first_stop:08d}.safetensors").is_file()
    assert "stopping after this step" in project.train_log_path.read_text()
    r = cli("train", root)
    assert r.returncode == 2 and "stopped training at step" in r.stderr and "--restart" in r.stderr

    # 2. a resumed job killed with SIGKILL (out-of-memory killer, reboot): the lock goes stale
    r = cli("train", root, "--resume", "--detach", "--json")
    assert r.returncode == 0, r.stderr
    pid = json.loads(r.stdout)["pid"]
    wait_for(lambda: steps(project) > first_stop, "a step after the resume")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not joblock.process_alive(pid), "the kill")
    st = status(project)
    assert st["state"] == "failed" and st["resumable"] and st["resume_step"] == first_stop
    assert "ended unexpectedly" in st["message"] and "--resume" in st["message"]
    assert joblock.lock_path(project).exists()  # stale, cleared by the next start

    # 3. in the foreground (run here, in the main thread, as the CLI does): Ctrl-C stops after the
    #    step and saves; a Ctrl-C while the model loads aborts at once, and the last state stays valid
    with torch_threads(1):
        ctrl_c(project)
        result = jobs.run_job(project, resume=True, stream=io.StringIO())  # clears the stale lock
        assert result.stopped and result.steps > first_stop
        assert not joblock.lock_path(project).exists()
        st = status(project)
        assert st["state"] == "stopped" and st["resume_step"] == st["step"] == result.steps
        assert st["message"].startswith(f"Training stopped at step {result.steps} of 60")
        ctrl_c(project, loading=True)
        with pytest.raises(KeyboardInterrupt):
            jobs.run_job(project, resume=True, stream=io.StringIO())
        st = status(project)
        assert st["state"] == "stopped" and st["resume_step"] == result.steps
        assert "interrupted at step" in st["message"] and f"continues from step {result.steps}" in st["message"]

        # 4. resumed to the end: the same LoRA as an uninterrupted run
        final = jobs.run_job(project, resume=True, stream=io.StringIO())
        assert final.steps == 60 and final.path == project.final_file()
        ref = make_train_project(tmp_path / "ref", tiny_sd15, images=5, settings=SETTINGS)
        train_project(ref, stream=io.StringIO())
    st = status(project)
    assert st["state"] == "finished" and not st["resumable"]
    events = read_events(project.events_path)
    assert [e["step"] for e in events if e["event"] == "step"][-1] == 60
    assert [e["path"] for e in events if e["event"] == "save"].count(str(project.epoch_file(4))) == 1
    for name, other in ((project.final_file(), ref.final_file()), (project.epoch_file(8), ref.epoch_file(8))):
        a, b = load_file(str(name)), load_file(str(other))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


@pytest.fixture
def ctrl_c(tmp_path):
    """Send SIGINT to this process once the project's run has trained a step more (or, with
    ``loading``, once it holds the lock and is still loading the model)."""
    threads = []

    def arm(project, loading=False):
        before = steps(project)

        def fire():
            if loading:  # the run's handler is in place and the model is loading (a second or more)
                wait_for(lambda: isinstance(signal.getsignal(signal.SIGINT), StopRequest)
                         and read_record(project).status == "running", "the run to start")
            else:
                wait_for(lambda: steps(project) > before, "a step of the foreground run")
            os.kill(os.getpid(), signal.SIGINT)

        t = threading.Thread(target=fire, daemon=True)
        t.start()
        threads.append(t)

    yield arm
    for t in threads:
        t.join(timeout=10)


@pytest.mark.timeout(120)
def test_status_follow_prints_until_the_end(tmp_path, tiny_sd15):
    """`status --follow` on a finished run prints its events and returns."""
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1)
    from tui_lora.core.events import EventWriter

    ev = EventWriter(project.events_path)
    ev.emit("start", total_steps=2, epochs=1, steps_per_epoch=2, images=1, device="cpu")
    ev.emit("step", step=1, epoch=1, loss=0.5, avg_loss=0.5, lr=1e-4, it_per_s=None, eta_s=None)
    ev.emit("done", path=str(project.final_file()), steps=2, seconds=1.0)
    r = cli("status", project.root, "--follow")
    assert r.returncode == 0
    assert "start: 2 steps" in r.stdout and "done: 2 steps" in r.stdout and "finished" in r.stdout
