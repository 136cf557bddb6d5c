"""Helpers for the wizard's Pilot and snapshot tests."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "wizard"
UPDATE = os.environ.get("TUI_LORA_UPDATE_SNAPSHOTS") == "1"
SIZE = (80, 24)


def run(app):
    """``app.run_test`` at 80×24 with notifications shown (run_test hides them by default)."""
    return app.run_test(size=SIZE, notifications=True)


def screen_text(app) -> str:
    """The screen as plain text, as a person would read it (modals, toasts and all)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True,
                      color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def flat(app) -> str:
    """The screen's words in one line: wrapped sentences can be found whole (borders dropped, the
    toasts' ▌ edge too: a long temporary path wraps a notification differently from run to run)."""
    text = screen_text(app).translate({ord(c): " " for c in "│╭╮╰╯─▕▏┃▌"})
    return " ".join(text.split())


def assert_snapshot(app, name: str, replace: dict[str, str] | None = None) -> None:
    """Compare the screen with tests/snapshots/wizard/<name>.txt (TUI_LORA_UPDATE_SNAPSHOTS=1 rewrites).
    ``replace`` masks what differs between runs (a test server's port)."""
    text = screen_text(app)
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}; run with TUI_LORA_UPDATE_SNAPSHOTS=1 and review it:\n{text}")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"screen differs from {path.name}:\n{text}"


async def wait_for(pilot, condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds (workers and reader threads are asynchronous)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


async def settle(pilot, rounds: int = 3) -> None:
    """Let queued messages start their workers, wait for those, and handle what they posted."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def fake_nvidia_smi(folder: Path, output: str = "NVIDIA GeForce RTX 3060, 12288, 1024", code: int = 0) -> Path:
    """A real executable named nvidia-smi that answers like the driver's (tests have no GPU)."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {code}\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """HOME inside the test's folder, so paths show as ~/... and snapshots do not depend on tmp names."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.chdir(h)
    return h


@pytest.fixture
def train_project(home, tiny_sd15, monkeypatch):
    """A project on the tiny SD1.5 model under ~; no detached job outlives the test."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the detached trainer's threads compete for 2 cores otherwise
    from support.train import make_train_project
    from tui_lora.core import jobs

    made = []

    def make(settings, images=2):
        project = make_train_project(home / "proj", tiny_sd15, images=images, settings=settings)
        made.append(project)
        return project

    yield make
    for project in made:
        jobs.stop_job(project, timeout=5, force=True)


@pytest.fixture
def gpu_12gb(tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_nvidia_smi(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def no_gpu(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def wizard_project(home):
    """A project under ~ with images: wizard_project(name="proj", images=8, ...)."""
    from tui_lora.core.project import Project
    from tui_lora.demo.datasets import write_dataset

    def make(name: str = "proj", *, images: int = 8, preset: str = "sd15-anime-character",
             trigger: str = "ohwx", remember: bool = True) -> Project:
        ref = "stabilityai/stable-diffusion-xl-base-1.0" if preset.startswith("sdxl") else \
            "stable-diffusion-v1-5/stable-diffusion-v1-5"
        project = Project.create(home / name, preset=preset, base_model=ref, trigger=trigger)
        if images:
            write_dataset(project.concepts()[0].path, images, size=(64, 64), trigger=trigger)
        if remember:
            from tui_lora.core.userconfig import remember_project

            remember_project(project.root)
        return project

    return make


def write_finished_run(project, *, steps: int = 40, epochs: int = 4, t0: float = 1_700_000_000.0) -> None:
    """A complete run in logs/events.jsonl with fixed times (deterministic screens)."""
    import json

    lines = [{"event": "start", "time": t0, "total_steps": steps, "epochs": epochs,
              "steps_per_epoch": steps // epochs, "images": 8, "device": "cuda"}]
    for step in range(1, steps + 1):
        epoch = (step - 1) // (steps // epochs) + 1
        loss = 0.2 - 0.002 * step + (0.01 if step % 3 == 0 else 0.0)
        lines.append({"event": "step", "time": t0 + step, "step": step, "epoch": epoch, "loss": round(loss, 4),
                      "avg_loss": round(loss + 0.005, 4), "lr": 5e-4, "it_per_s": 1.5,
                      "eta_s": float(steps - step)})
        if step % (steps // epochs) == 0 and epoch < epochs:
            lines.append({"event": "save", "time": t0 + step, "epoch": epoch, "step": step,
                          "path": str(project.epoch_file(epoch))})
    lines.append({"event": "sample", "time": t0 + steps, "epoch": epochs,
                  "path": str(project.samples_dir / f"e{epochs:02d}-0.png")})
    lines.append({"event": "save", "time": t0 + steps, "epoch": epochs, "step": steps,
                  "path": str(project.final_file())})
    lines.append({"event": "done", "time": t0 + steps + 1, "path": str(project.final_file()), "steps": steps,
                  "seconds": float(steps + 1)})
    project.events_path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    project.train_log_path.write_text("loading model\ncaching latents\r 50%\r100%\nepoch 1/4\ndone\n",
                                      encoding="utf-8")


@contextlib.contextmanager
def job_lock(project, *, ignore_term: bool = False) -> Iterator[subprocess.Popen]:
    """A live process that holds the project's training lock, as a detached trainer would (the
    wizard's pid check sees "running"); with ``ignore_term`` it ignores a graceful stop."""
    from tui_lora.core import joblock

    code = ("import signal, time\n" + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
            + "print(1, flush=True)\ntime.sleep(120)")
    token = joblock.new_token()  # in its environment, as a detached trainer has it: the lock's proof
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, joblock.TOKEN_ENV: token})
    try:
        assert proc.stdout.readline().strip() == "1"
        info = joblock.acquire(project, pid=proc.pid, detached=True, token=token)
        yield proc
    finally:
        proc.kill()
        proc.wait()
    joblock.release(project, info.token)
