"""tui-lora dedupe — find near-duplicate images (dry run unless --apply)"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "find near-duplicate images (dry run unless --apply)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--threshold", type=int, default=6, metavar="T")
    p.add_argument("--apply", action="store_true")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora dedupe is being built in this checkout; it is not available yet.")
