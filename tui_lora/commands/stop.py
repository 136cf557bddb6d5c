"""tui-lora stop DIR [--timeout S] [--force]"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_float
from tui_lora.commands._fixes import step_words
from tui_lora.commands.status import render

HELP = "stop a running training gracefully (saves state and the LoRA)"
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
    from tui_lora.core import jobs

    project = load_project(args)
    result = jobs.stop_job(project, timeout=args.timeout, force=args.force)
    if not result.was_running:
        lines = ["No training is running for this project.", *render(project, result.status)]
    elif not result.stopped:
        lines = [f"The training (pid {result.status.pid}) is still finishing its step and saving after "
                 f"{args.timeout:g} s; check with `tui-lora status {project.root}`, or kill it with "
                 f"`tui-lora stop {project.root} --force`."]
    else:
        lines = (["Training killed."] if result.forced else []) + render(project, result.status)
    emit(args, result.to_dict(step_words), lines)
    return 0 if result.stopped or not result.was_running else 1
