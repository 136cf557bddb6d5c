"""tui-lora train DIR [--detach] [--resume] [--set section.key=value ...]"""

from __future__ import annotations

import argparse
import sys

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_int
from tui_lora.core.errors import UserError

HELP = "train the LoRA (foreground, or --detach to run in the background)"
DESCRIPTION = (
    "Train the project's LoRA with the settings in project.toml (override any with --set). Progress goes to "
    "the terminal and to logs/events.jsonl; LoRA files go to output/ (one per save_every_n_epochs and the final one)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--detach", action="store_true", help="run in the background; watch with `tui-lora status DIR`")
    p.add_argument("--resume", action="store_true", help="continue from the last saved state in state/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project.toml setting for this run, e.g. --set training.unet_lr=1e-4")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N", help="train on N GPUs (DDP)")
    p.add_argument("--device", metavar="DEV", help="cuda, cuda:1 or cpu (default: the first CUDA GPU, else the CPU)")


def run(args: argparse.Namespace) -> int:
    if args.detach:
        raise UserError("--detach is not available yet; run `tui-lora train DIR` in the foreground "
                        "(inside tmux or screen it survives a dropped SSH connection).")
    if args.resume:
        raise UserError("--resume is not available yet; run `tui-lora train DIR` to train from the start.")
    if args.gpus > 1:
        raise UserError("--gpus above 1 is not available yet; train on one GPU (drop --gpus).")
    project = load_project(args)
    project.effective_settings(args.overrides)  # bad overrides fail here, before anything starts
    from tui_lora.core.train.run import train_project

    # With --json, stdout carries only the final JSON object; progress goes to stderr.
    stream = sys.stderr if args.json else sys.stdout
    try:
        result = train_project(project, overrides=args.overrides, stream=stream, device=args.device)
    except KeyboardInterrupt:
        raise UserError("Training interrupted; the LoRA files saved so far are in "
                        f"{project.output_dir}.", exit_code=130) from None
    emit(args, result.to_dict(), [])
    return 0
