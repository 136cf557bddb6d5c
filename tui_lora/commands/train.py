"""tui-lora train DIR [--detach] [--resume] [--set section.key=value ...]"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, load_project, positive_int
from tui_lora.core.errors import UserError

HELP = "train the LoRA (foreground, or --detach to run in the background)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--detach", action="store_true", help="run in the background; watch with `tui-lora status DIR`")
    p.add_argument("--resume", action="store_true", help="continue from the last saved state in state/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project.toml setting for this run, e.g. --set training.unet_lr=1e-4")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N", help="train on N GPUs (DDP)")


def run(args: argparse.Namespace) -> int:
    project = load_project(args)
    project.effective_settings(args.overrides)  # bad overrides fail here, before anything starts
    raise UserError("Training is being built in this checkout; it is not available yet.")
