"""Resume state and guards, in this process on the tiny model: several stops and resumes end bitwise
equal to an uninterrupted run; a diverging run stops and keeps its last good files; a full disk
during a save leaves the previous file intact (a real EFBIG from RLIMIT_FSIZE, in a subprocess)."""

import io
import json
import resource
import signal
import subprocess
import sys
import threading

import pytest
import torch
from safetensors.torch import load_file

from conftest import cli_env
from tui_lora.commands._fixes import say
from tui_lora.core.errors import OperationFailed, UserError
from tui_lora.core.events import read_events, summarize
from tui_lora.core.jobs import job_status
from tui_lora.core.train.checkpoint import read_checkpoint
from tui_lora.core.train.record import read_record
from tui_lora.core.train.run import train_project
from support.train import make_train_project, torch_threads

RESUME_SETTINGS = {
    "training.train_batch_size": 1, "training.max_train_epochs": 3, "training.lr_scheduler": "cosine_with_restarts",
    "training.lr_warmup_ratio": 0.2, "dataset.flip_aug": True, "dataset.caption_dropout_rate": 0.2,
    "dataset.shuffle_caption": True, "training.noise_offset": 0.05, "training.text_encoder_lr": 1e-4,
    "output.save_precision": "float",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def train(project, *, stop_at=None, **kw):
    """train_project, with the stop a SIGTERM would cause (the cancel event) after step ``stop_at``."""
    cancel = threading.Event()

    def on_event(ev):
        if ev["event"] == "step" and ev["step"] == stop_at:
            cancel.set()

    return train_project(project, stream=io.StringIO(), cancel=cancel, on_event=on_event, **kw)


def tensors(path):
    return load_file(str(path))


def assert_same(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]


def test_several_stops_and_resumes_equal_an_uninterrupted_run(tmp_path, tiny_sd15):
    ref = make_train_project(tmp_path / "ref", tiny_sd15, images=3, size=[(64, 64), (128, 64)],
                             settings=RESUME_SETTINGS)
    train(ref)
    project = make_train_project(tmp_path / "p", tiny_sd15, images=3, size=[(64, 64), (128, 64)],
                                 settings=RESUME_SETTINGS)
    first = train(project, stop_at=2)  # mid-epoch 1 (3 steps per epoch)
    assert first.stopped and first.steps == 2 and first.path is None
    rec = read_record(project)
    assert (rec.status, rec.step, rec.epoch) == ("stopped", 2, 0)
    assert (project.state_dir / rec.checkpoint).is_file()
    step_file = project.output_dir / f"{project.output_name}-step00000002.safetensors"
    assert step_file.is_file() and job_status(project).state == "stopped"

    second = train(project, stop_at=5, resume=True)  # mid-epoch 2, after the epoch-1 save
    assert second.stopped and second.steps == 5 and read_record(project).step == 5
    assert len(list(project.state_dir.glob("checkpoint-*.pt"))) == 1  # older checkpoints are removed

    # the settings of the run are checked on resume, before anything is written
    events_before = project.events_path.read_bytes()
    with pytest.raises(UserError, match="settings changed since the training stopped"):
        train(project, resume=True, overrides=["training.unet_lr=1e-3"])
    assert project.events_path.read_bytes() == events_before and read_record(project).status == "stopped"

    last = train(project, resume=True)
    assert not last.stopped and last.steps == 9 and last.path == project.final_file()
    # the same LoRA, bitwise, and the same epoch files
    assert_same(tensors(project.final_file()), tensors(ref.final_file()))
    for epoch in (1, 2):
        assert_same(tensors(project.epoch_file(epoch)), tensors(ref.epoch_file(epoch)))
    # events: one start per session, steps numbered 1..9 once each, epoch files saved once
    events = read_events(project.events_path)
    assert [e["event"] for e in events].count("start") == 3
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(1, 10))
    saves = [e["path"] for e in events if e["event"] == "save"]
    assert saves.count(str(project.epoch_file(1))) == 1 and saves.count(str(project.epoch_file(2))) == 1
    assert str(step_file) in saves and str(project.output_dir / f"{project.output_name}-step00000005.safetensors") in saves
    warnings = [say(w) for w in summarize(events).warnings]  # as the CLI says them
    if not torch.cuda.is_available():  # no CUDA: the CPU, with a warning each session
        assert sum("No CUDA GPU found; training on the CPU" in w for w in warnings) == 3
    stop_warnings = [w for w in warnings if w.startswith("Training stopped at step")]
    assert len(stop_warnings) == 2 and "--resume" in stop_warnings[0]
    assert last.files[:2] == [step_file, project.epoch_file(1)]  # files of earlier sessions are remembered
    st = job_status(project)
    assert st.state == "finished" and not st.resumable and not list(project.state_dir.glob("checkpoint-*.pt"))


def test_a_diverging_run_stops_and_keeps_the_last_good_files(tmp_path, tiny_sd15):
    # weight decay 1e5 at lr 5e-4 multiplies the weights by -49 every step: they blow up within a few
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={
        "training.train_batch_size": 1, "training.max_train_epochs": 10, "training.lr_scheduler": "constant",
        "training.optimizer_args": ["weight_decay=1e5"]})
    with pytest.raises(OperationFailed) as exc:
        train(project)
    msg = say(exc.value)
    assert "became NaN or infinite" in msg and "learning rate" in msg and "weight_decay=1e5" in msg
    files = sorted(project.output_dir.glob("*.safetensors"))
    assert files and not project.final_file().exists()
    good = files[-1]
    assert str(good) in msg and good == project.epoch_file(len(files))  # epoch files 1..k, nothing after
    for f in files:
        assert all(torch.isfinite(t.float()).all() for t in tensors(f).values())
    st = job_status(project)
    assert st.state == "failed" and say(st.message) == msg and say(st.summary.error) == msg
    # the state is the last good epoch's, and finite
    rec = read_record(project)
    state = read_checkpoint(project.state_dir / rec.checkpoint)
    assert rec.step == state["state"]["global_step"] == len(files)
    assert all(torch.isfinite(t).all() for t in state["lora"].values())

    # the last good file loads in diffusers and changes the model
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd15)
    pipe.load_lora_weights(str(good), adapter_name="good")
    lora = {k: v for k, v in pipe.unet.state_dict().items() if "lora" in k}
    assert lora and all(torch.isfinite(v).all() for v in lora.values())

    # a run whose weights turn NaN (Adam with eps=0 divides 0 by 0) does not overwrite the good file
    before = project.epoch_file(1).read_bytes()
    with pytest.raises(OperationFailed, match="the LoRA weights .* became NaN"):
        train(project, overrides=["training.optimizer_args=eps=0", "output.save_precision=fp16"])
    assert project.epoch_file(1).read_bytes() == before
    assert not list(project.output_dir.glob(".*.tmp"))


def _limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG, like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_during_a_save_keeps_the_previous_file(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={
        "training.train_batch_size": 1, "training.max_train_epochs": 2})
    train(project)
    old = {p.name: p.read_bytes() for p in project.output_dir.glob("*.safetensors")}
    assert sorted(old) == [project.epoch_file(1).name, project.final_file().name]
    assert all(len(b) > 64 * 1024 for b in old.values())
    # A new run (another seed) in a process that cannot write files past 64 KB: its first save
    # (over the old epoch-1 file) fails for real, as on a full disk.
    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run([sys.executable, "-m", "tui_lora", "train", str(project.root), "--json", "--set",
                        "training.seed=7"], capture_output=True, text=True, env=env, timeout=300,
                       preexec_fn=_limit_file_size(64 * 1024))
    assert r.returncode == 2, r.stderr[-2000:]
    err = json.loads(r.stdout)["error"]
    assert err.startswith(f"Cannot write {project.epoch_file(1)}") and "free disk space" in err
    assert {p.name: p.read_bytes() for p in project.output_dir.glob("*.safetensors")} == old
    assert not [p for p in project.output_dir.iterdir() if p.name.endswith(".tmp")]
    st = job_status(project)
    assert st.state == "failed" and say(st.message) == err
