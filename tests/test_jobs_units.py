"""The pure parts of jobs: the run record and resume checks, status from files, NaN and OOM messages."""

import json
import os
import subprocess
import sys
import time

import pytest

from tui_lora.commands._fixes import say
from tui_lora.core import jobs, joblock
from tui_lora.core.errors import Notice, RunAction, UserError
from tui_lora.core.events import EventWriter
from tui_lora.core.train import guards
from tui_lora.core.train.record import (
    RunRecord,
    check_resume,
    dataset_fingerprint,
    merge_overrides,
    read_record,
    settings_changes,
    write_record,
)


def stopped_record(project, **kw):
    settings = project.effective_settings(kw.get("overrides", []))
    images, captions = dataset_fingerprint(project, settings)
    rec = RunRecord(status="stopped", step=6, epoch=2, total_steps=12, epochs=4, checkpoint="checkpoint-00000006.pt",
                    settings=settings, dataset=images, captions=captions, **kw)
    write_record(project, rec)
    project.state_dir.mkdir(exist_ok=True)
    (project.state_dir / rec.checkpoint).write_bytes(b"x")
    return rec


def test_settings_changes_ignore_what_does_not_change_the_maths(make_project):
    project = make_project(images=0)
    old = project.effective_settings()
    new = project.effective_settings(["output.save_every_n_epochs=3", "sample.sample_every_n_epochs=1",
                                      "training.gradient_checkpointing=true", "training.unet_lr=1e-3",
                                      "network.network_dim=8"])
    assert [c[0] for c in settings_changes(old, new)] == ["network.network_dim", "training.unet_lr"]
    assert merge_overrides(["training.unet_lr=1e-4", "network.network_dim=8"], ["training.unet_lr=2e-4"]) == [
        "network.network_dim=8", "training.unet_lr=2e-4"]


def test_check_resume_refuses_in_one_sentence(make_project):
    project = make_project(images=3)
    settings = project.effective_settings()
    with pytest.raises(UserError, match="There is no saved training state to resume"):
        check_resume(project, None, settings)
    rec = stopped_record(project)
    assert check_resume(project, rec, settings) == []
    with pytest.raises(UserError, match=r"settings changed .*training.unet_lr 0.0005 → 0.001") as info:
        check_resume(project, rec, project.effective_settings(["training.unet_lr=1e-3"]))
    assert info.value.fix.steps == (RunAction("train.restart", str(project.root)),)
    assert f"`tui-lora train {project.root} --restart`" in say(info.value)
    # a caption edit is allowed, with a warning; a new image is not
    image = project.concepts()[0].images()[0]
    image.with_suffix(".txt").write_text("ohwx, edited")
    assert "Captions changed" in check_resume(project, rec, settings)[0]
    from tui_lora.demo.datasets import make_image

    make_image(7, (128, 128)).save(image.with_name("new.png"))
    with pytest.raises(UserError, match="The dataset changed since the training stopped"):
        check_resume(project, rec, settings)
    rec.status = "finished"
    with pytest.raises(UserError, match="already finished"):
        check_resume(project, rec, settings)


def test_a_new_run_does_not_discard_a_stopped_one_without_restart(make_project):
    project = make_project(images=2)
    stopped_record(project, overrides=["training.unet_lr=1e-4"])
    EventWriter(project.events_path).emit("warning", message="old run")
    with pytest.raises(UserError, match=r"stopped training at step 6 of 12") as info:
        jobs.prepare_run(project, resume=False, restart=False, overrides=[], gpus=1)
    assert [s.action for s in info.value.fix.steps] == ["train.resume", "train.restart"]
    assert say(info.value).endswith(f"continue it with `tui-lora train {project.root} --resume`, or start over with "
                                    f"`tui-lora train {project.root} --restart`.")
    # resuming reuses the run's own overrides; a bad new one is refused before anything changes
    jobs.prepare_run(project, resume=True, restart=False, overrides=[], gpus=1)
    assert read_record(project).status == "running"
    with pytest.raises(UserError):
        jobs.prepare_run(project, resume=True, restart=False, overrides=["training.unet_lr=5e-4"], gpus=1)
    jobs.prepare_run(project, resume=False, restart=True, overrides=["training.seed=3"], gpus=2)
    rec = read_record(project)
    assert rec.status == "running" and rec.checkpoint is None and rec.overrides == ["training.seed=3"] and rec.gpus == 2
    assert not list(project.state_dir.glob("checkpoint-*.pt"))
    assert not project.events_path.exists()
    archived = list((project.logs_dir / "previous").glob("*-events.jsonl"))
    assert len(archived) == 1 and "old run" in archived[0].read_text()


def test_an_empty_dataset_is_refused_before_anything_starts(make_project):
    project = make_project(images=0)
    EventWriter(project.events_path).emit("warning", message="old run")
    with pytest.raises(UserError) as info:
        jobs.start_job(project)
    assert say(info.value) == (f"The dataset has no images; fetch some with `tui-lora fetch {project.root}` or copy "
                               "15-50 images into dataset/<N>_<name>/.")
    assert not jobs.is_running(project) and not joblock.lock_path(project).exists()
    assert project.events_path.exists() and not (project.logs_dir / "previous").exists()  # nothing archived
    assert read_record(project) is None and not project.train_log_path.exists()


def test_status_of_every_state(make_project):
    project = make_project(images=2)
    root = project.root
    assert jobs.job_status(project).state == "none" and not jobs.is_running(project)

    ev = EventWriter(project.events_path)
    ev.emit("start", total_steps=12, epochs=4, steps_per_epoch=3, images=2, device="cpu")
    ev.emit("step", step=6, epoch=2, loss=0.1, avg_loss=0.12, lr=1e-4, it_per_s=2.0, eta_s=3.0)
    ev.emit("save", epoch=2, step=6, path=str(project.epoch_file(2)))
    rec = stopped_record(project, message=Notice("Training stopped at step 6 of 12"))
    st = jobs.job_status(project)
    assert (st.state, st.resumable, st.resume_step, st.resume_epoch, st.message) == ("stopped", True, 6, 2,
                                                                                     rec.message)
    assert st.files == [str(project.epoch_file(2))] and st.summary.eta_s == 3.0
    assert json.loads(json.dumps(st.to_dict()))["state"] == "stopped"

    # running: a live process holds the lock
    token = joblock.new_token()  # a detached trainer has its lock's token in its environment
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               env={**os.environ, joblock.TOKEN_ENV: token})
    try:
        info = joblock.acquire(project, pid=sleeper.pid, detached=True, token=token)
        rec.status = "running"
        write_record(project, rec)
        st = jobs.job_status(project)
        assert (st.state, st.pid, st.detached, st.resumable) == ("running", sleeper.pid, True, False)
        assert jobs.is_running(project)
    finally:
        sleeper.kill()
        sleeper.wait()
    # the process died without a word: failed, and resumable from the last state
    st = jobs.job_status(project)
    assert st.state == "failed" and st.resumable
    assert "ended unexpectedly at step 6" in say(st.message) and f"tui-lora train {root} --resume" in say(st.message)
    joblock.release(project, info.token)

    ev.emit("error", message="The loss became NaN.")
    write_record(project, RunRecord(status="failed", message="The loss became NaN.", checkpoint=None))
    st = jobs.job_status(project)
    # (a plain sentence, as records and events held before fixes were data, reads back as it was)
    assert (st.state, st.message, st.resumable) == ("failed", Notice("The loss became NaN."), False)
    assert st.summary.error == Notice("The loss became NaN.") and say(st.message) == "The loss became NaN."

    ev.emit("start", total_steps=12, epochs=4, steps_per_epoch=3, images=2, device="cpu")
    ev.emit("done", path=str(project.final_file()), steps=12, seconds=5.0)
    write_record(project, RunRecord(status="finished", step=12))
    st = jobs.job_status(project)
    assert st.state == "finished" and st.summary.final_path == str(project.final_file()) and not st.resumable


def test_status_and_stop_commands_without_a_run(make_project, run_cli):
    project = make_project(images=1)
    r = run_cli("status", project.root)
    assert r.returncode == 0 and "never run" in r.stdout
    r = run_cli("stop", project.root, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["was_running"] is False


def test_out_of_memory_advice_comes_from_the_planner(make_project):
    project = make_project(preset="sdxl-character", images=0, settings={
        "training.train_batch_size": 4, "training.gradient_checkpointing": False, "training.optimizer_type": "AdamW",
        "network.network_dim": 32, "training.mixed_precision": "bf16"})
    s = project.effective_settings()
    changes, before, after = guards.memory_advice(s, "sdxl", 24.0)
    assert before > 24 and after <= 24 * 0.9
    assert changes[0] == "training.gradient_checkpointing = true"
    changes8, _, after8 = guards.memory_advice(s, "sdxl", 8.0)
    assert len(changes8) > len(changes) and after8 < after
    assert any("train_batch_size" in c for c in changes8)
    msg = str(guards.oom_message(s, family="sdxl", step=3, card_gb=24.0, card="NVIDIA RTX 4090"))
    assert msg.startswith("The GPU ran out of memory at step 3 on the NVIDIA RTX 4090 (24 GB)")
    assert "training.gradient_checkpointing = true" in msg and "\n" not in msg
    tiny = str(guards.oom_message(s, family="sdxl", step=0, card_gb=2.0))
    assert "before the first step" in tiny and "lower dataset.resolution" in tiny


def test_failures_are_recognised():
    import torch

    assert guards.out_of_memory_kind(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")) == "cuda"
    assert guards.out_of_memory_kind(MemoryError()) == "cpu"
    assert guards.out_of_memory_kind(ValueError("no")) is None
    with pytest.raises(RuntimeError) as exc:
        torch.empty(2**62, dtype=torch.uint8)  # a real failed allocation
    assert guards.out_of_memory_kind(exc.value) == "cpu"


def test_diverged_message_names_likely_causes(make_project):
    project = make_project(preset="sdxl-character", images=0)
    s = project.effective_settings(["training.mixed_precision=fp16"])
    msg = str(guards.diverged_message(what="the loss", step=37, epoch=7, settings=s, family="sdxl",
                                      mixed_precision="fp16", last_good="out/x-000006.safetensors"))
    assert "step 37 (epoch 7)" in msg and "out/x-000006.safetensors" in msg
    assert 'mixed_precision = "bf16"' in msg and "sdxl-vae-fp16-fix" in msg and "learning rate" in msg
    s = project.effective_settings(["training.mixed_precision=bf16", "model.vae=madebyollin/sdxl-vae-fp16-fix"])
    msg = str(guards.diverged_message(what="the loss", step=1, epoch=1, settings=s, family="sdxl",
                                      mixed_precision="bf16", last_good=None))
    assert "VAE" not in msg and "no LoRA file was written" in msg


def test_core_jobs_stays_light():
    out = subprocess.run([sys.executable, "-c", "import sys, tui_lora.core.jobs, tui_lora.commands.status, "
                          "tui_lora.commands.stop; print(sorted(m for m in ('torch', 'diffusers', 'accelerate') "
                          "if m in sys.modules))"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()}, check=True)
    assert out.stdout.strip() == "[]"


def test_stop_request_semantics():
    import signal

    from tui_lora.core.jobrun import StopRequest

    loading = StopRequest()
    with pytest.raises(KeyboardInterrupt):  # nothing to save yet: abort at once
        loading(signal.SIGTERM, None)
    assert loading.cancel.is_set()

    training = StopRequest()
    training.on_event({"event": "start"})
    training(signal.SIGINT, None)  # first Ctrl-C: stop after the step
    assert training.cancel.is_set()
    training(signal.SIGTERM, None)  # a later SIGTERM (another `stop`) changes nothing
    with pytest.raises(KeyboardInterrupt):
        training(signal.SIGINT, None)  # a second Ctrl-C aborts

    worker = StopRequest(worker=True)  # one of N launched processes: never aborts on its own
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGINT):
        worker(sig, None)
    assert worker.cancel.is_set()

    # the launcher's parent forwards a stop to every worker (SIGTERM), a second Ctrl-C kills
    launcher = subprocess.Popen([sys.executable, "-c",
                                 "import subprocess, sys, time\n"
                                 "w = subprocess.Popen([sys.executable, '-c', 'import signal, sys, time\\n"
                                 "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\\nprint(1, flush=True)\\n"
                                 "time.sleep(30)'], stdout=sys.stdout)\n"
                                 "sys.exit(w.wait())"], stdout=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout.readline().strip() == "1"
        parent = StopRequest()
        parent.launcher = launcher.pid
        parent(signal.SIGINT, None)
        assert launcher.wait(timeout=20) == 7  # the worker got SIGTERM and exited its own way
    finally:
        launcher.kill()
        launcher.wait()


def test_stop_waits_a_bounded_time_then_force_kills(make_project):
    project = make_project(images=1)
    rec = stopped_record(project)
    rec.status = "running"
    write_record(project, rec)
    token = joblock.new_token()
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(1, flush=True)\ntime.sleep(60)"],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, joblock.TOKEN_ENV: token})
    try:
        assert stubborn.stdout.readline().strip() == "1"
        joblock.acquire(project, pid=stubborn.pid, detached=True, token=token)
        t0 = time.monotonic()
        res = jobs.stop_job(project, timeout=0.5)
        assert time.monotonic() - t0 < 5
        assert res.was_running and not res.stopped and res.status.state == "running"
        res = jobs.stop_job(project, timeout=0.5, force=True)
        assert res.stopped and res.forced and stubborn.wait(timeout=10) == -9
        assert not joblock.lock_path(project).exists()
        st = res.status
        assert st.state == "stopped" and st.resumable and "killed" in say(st.message) and "--resume" in say(st.message)
    finally:
        stubborn.kill()
        stubborn.wait()


def test_a_child_python_runs_this_checkout_unbuffered(tmp_path):
    import subprocess
    import sys

    import tui_lora
    from tui_lora.core.childenv import child_env

    code = "import os, tui_lora; print(tui_lora.__file__, os.environ['TUI_LORA_X'], os.environ['PYTHONUNBUFFERED'])"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(TUI_LORA_X="7"),
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.stdout.split() == [tui_lora.__file__, "7", "1"], r.stderr
