"""Multi-GPU training (DDP) through accelerate's launcher.

``tui-lora train DIR --gpus N`` holds the project's lock and runs ``accelerate launch --multi_gpu
--num_processes N -m tui_lora train DIR …``; each of the N processes (marked by
``TUI_LORA_JOB_WORKER``) trains its slice of every global batch (batch size per device × N), and
only the main one writes files, events and state. The launcher runs in its own process group, so
a Ctrl-C in the terminal reaches only our process, which turns it into one SIGTERM per worker:
they all stop at the same step and the main one saves. When our process dies the launcher gets
SIGTERM from the kernel (PR_SET_PDEATHSIG), so no worker outlives the lock.

No torch here: the parent process never loads a model.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from typing import IO

from tui_lora.core.errors import ChangeInput, Fix, Given, UserError, Words, verbatim

WORKER_ENV = "TUI_LORA_JOB_WORKER"


def is_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def check_gpus(gpus: int, device: str | None) -> None:
    """Refuse in one sentence a ``--gpus N`` this machine cannot run. ``--device cpu`` runs N CPU
    processes over gloo (slow; it exercises the multi-GPU path without GPUs)."""
    if gpus <= 1 or device == "cpu":
        return
    if device and device != "cuda":
        raise UserError(Words("{} picks one GPU", Given("device", device)),
                        Fix(f"{{}} to train on {gpus} GPUs (set CUDA_VISIBLE_DEVICES to choose which ones)",
                            ChangeInput("device", verb="drop")))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = len([d for d in visible.split(",") if d.strip()])
        reason = f"CUDA_VISIBLE_DEVICES={visible} shows {count}"
    else:
        from tui_lora.core.gpu import detect_gpus

        report = detect_gpus()
        count = len(report.gpus)
        reason = f"this machine has {count}" if report.gpus else report.reason.rstrip(".")
    if count < gpus:
        raise UserError(Words(f"{{}} needs {gpus} GPUs but " + verbatim(reason), Given("gpus", str(gpus))),
                        Fix("{} or fewer", ChangeInput("gpus", str(max(1, count)), verb="use")))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher_command(root: str | os.PathLike[str], *, gpus: int, device: str | None, resume: bool, overrides: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(gpus),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), "-m", "tui_lora", "train", str(root), "--gpus", str(gpus)]
    if resume:
        cmd.append("--resume")
    for text in overrides:
        cmd += ["--set", text]
    if device:
        cmd += ["--device", device]
    return cmd


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_launcher(cmd: list[str], *, gpus: int, stdout: IO[bytes] | int | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    env[WORKER_ENV] = "1"
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // gpus)))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.Popen(cmd, env=env, stdout=stdout, process_group=0, preexec_fn=_die_with_parent)
