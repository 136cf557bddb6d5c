"""tui-lora tag — auto-tag images with a WD14 tagger"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "auto-tag images with a WD14 tagger"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--model", metavar="REPO_OR_DIR")
    p.add_argument("--threshold", type=float, default=0.35)
    p.add_argument("--character-threshold", type=float, default=0.85)


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora tag is being built in this checkout; it is not available yet.")
