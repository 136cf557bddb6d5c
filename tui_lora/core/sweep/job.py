"""A sweep is a job like a training: it holds the project's job lock (one training or sweep at a time),
runs in the foreground or detached (:func:`start_sweep_job`), and stops cleanly on SIGTERM (``tui-lora
stop``, the wizard) or Ctrl-C: the running variant finishes its step and saves its LoRA and resume
state. ``status`` reads it back from the files (:mod:`tui_lora.core.sweep.status`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from tui_lora.core import joblock
from tui_lora.core.signals import route_signals
from tui_lora.core.sweep.manifest import read_manifest
from tui_lora.core.sweep.prepare import prepare_sweep
from tui_lora.core.sweep.runner import Say, SweepResult, run_in_process, run_parallel, run_worker, sweep_log_path
from tui_lora.core.sweep.spec import Vary
from tui_lora.core.errors import Namer, UserError, neutral_name

if TYPE_CHECKING:
    from tui_lora.core.jobs import JobInfo
    from tui_lora.core.project import Project


class SweepStop:
    """The SIGINT / SIGTERM handler of a sweep: the first signal stops the running variant after its
    step (it saves); a second Ctrl-C, or a signal while no variant trains yet, aborts at once."""

    def __init__(self, *, parallel: bool = False) -> None:
        self.parallel = parallel  # variants run in workers, which get the stop forwarded
        self.cancel = threading.Event()
        self.training = threading.Event()  # the current variant's first step is under way

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "start":
            self.training.set()

    def next_variant(self) -> None:
        self.training.clear()

    def __call__(self, signum, frame) -> None:
        first = not self.cancel.is_set()
        self.cancel.set()
        hard = not first and signum == signal.SIGINT
        if hard or (not self.parallel and not self.training.is_set()):
            raise KeyboardInterrupt
        if first:
            with contextlib.suppress(OSError):
                os.write(2, b"\nstopping after this step: saving the running variants' LoRA and state "
                            b"(Ctrl-C again to abort)\n")


def sweep_command(project: Project, *, gpus: int, device: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "tui_lora", "sweep", str(project.root), "--job-child"]
    if gpus > 1:
        cmd += ["--gpus", str(gpus)]
    if device:
        cmd += ["--device", device]
    return cmd


def run_sweep_job(project: Project, *, varies: list[Vary] | None = None, resume: bool = False, restart: bool = False,
                  confirmed: bool = False, gpus: int = 1, device: str | None = None, stream: IO[str] | None = None,
                  quiet: bool = False, say: Say = lambda m: None, name: Namer = neutral_name) -> SweepResult:
    """Run the sweep in this process under the project's lock (what ``tui-lora sweep`` runs, in a
    terminal or as the detached job). KeyboardInterrupt for a hard abort."""
    from tui_lora.core.train.launch import check_gpus

    stop = SweepStop(parallel=gpus > 1)
    with route_signals(stop):
        token = os.environ.pop(joblock.TOKEN_ENV, None)
        if token:  # the detached process: start_sweep_job took the lock and wrote the manifest
            lock = joblock.adopt(project, token)
        else:
            check_gpus(gpus, device)
            lock = joblock.acquire(project, command=["tui-lora", "sweep", str(project.root)])
        try:
            if token:
                manifest = read_manifest(project)
                if manifest is None:
                    raise UserError(f"The sweep's list of variants in {project.root / 'state' / 'sweep'} is gone; "
                                    "start the sweep again.")
            else:
                manifest = prepare_sweep(project, varies, resume=resume, restart=restart, confirmed=confirmed,
                                         gpus=gpus, device=device)
            if gpus > 1:
                return run_parallel(project, manifest, cancel=stop.cancel, gpus=gpus, device=device, say=say,
                                    name=name)
            return run_in_process(project, manifest, cancel=stop.cancel, on_event=stop.on_event,
                                  before_variant=stop.next_variant, device=device, stream=stream, quiet=quiet,
                                  say=say, name=name)
        finally:
            joblock.release(project, lock.token)


def start_sweep_job(project: Project, *, varies: list[Vary] | None = None, resume: bool = False,
                    restart: bool = False, confirmed: bool = False, gpus: int = 1,
                    device: str | None = None) -> JobInfo:
    """Start the sweep in a detached process and return at once; every refusal (a job already
    running, a bad setting, nothing to resume) is raised here, before anything starts."""
    from tui_lora.core.jobs import spawn_detached
    from tui_lora.core.train.launch import check_gpus

    check_gpus(gpus, device)
    cmd = sweep_command(project, gpus=gpus, device=device)
    return spawn_detached(project, cmd, sweep_log_path(project), resume=resume,
                          prepare=lambda: prepare_sweep(project, varies, resume=resume, restart=restart,
                                                        confirmed=confirmed, gpus=gpus, device=device))


def run_worker_job(project: Project, label: str, *, resume: bool, device: str | None,
                   stream: IO[str] | None = None, name: Namer = neutral_name):
    """One worker of a multi-GPU sweep (its parent holds the lock and prepared the variant)."""
    stop = SweepStop()
    with route_signals(stop):
        return run_worker(project, label, resume=resume, device=device, cancel=stop.cancel, on_event=stop.on_event,
                          stream=stream, name=name)
