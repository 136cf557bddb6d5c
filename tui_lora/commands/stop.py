"""tui-lora stop DIR [--timeout S] [--force]"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_float
from tui_lora.commands._fixes import step_words
from tui_lora.commands.status import render

HELP = "stop a running training or sweep gracefully (saves state and the LoRA)"
DESCRIPTION = (
    "Ask the project's running training to stop: it finishes the current step, saves the LoRA and the resume "
    "state, and exits; `tui-lora train DIR --resume` continues it later. Waits up to --timeout seconds."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--timeout", type=positive_float, default=120.0, metavar="S",
                   help="seconds to wait for the training to save and exit (default 120)")
    p.add_argument("--force", action="store_true",
                   help="kill the training if it has not exited after --timeout (the last saved state stays valid)")


def run(args: argparse.Namespace) -> int:
    from tui_lora.commands._sweep_status import render_sweep
    from tui_lora.core import joblock, jobs
    from tui_lora.core.sweep import is_sweep_lock, sweep_status

    project = load_project(args)
    sweep = is_sweep_lock(joblock.live_lock(project))
    result = jobs.stop_job(project, timeout=args.timeout, force=args.force)
    data = result.to_dict(step_words)
    if sweep and (status := sweep_status(project)) is not None:
        shown = render_sweep(project, status)
        data |= {"job": "sweep", "sweep": status.to_dict(step_words)}
    else:
        shown = render(project, result.status)
    if not result.was_running:
        lines = ["No training is running for this project.", *shown]
    elif not result.stopped:
        lines = [f"The training (pid {result.status.pid}) is still finishing its step and saving after "
                 f"{args.timeout:g} s; check with `tui-lora status {project.root}`, or kill it with "
                 f"`tui-lora stop {project.root} --force`."]
    else:
        lines = (["Training killed."] if result.forced else []) + shown
    emit(args, data, lines)
    return 0 if result.stopped or not result.was_running else 1
