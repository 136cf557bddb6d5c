"""tui-lora compare — render an epoch × weight comparison grid"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "render an epoch × weight comparison grid"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--prompt", required=True)
    p.add_argument("--epochs", metavar="2,4,6")
    p.add_argument("--weights", metavar="0.6,0.8,1.0")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora compare is being built in this checkout; it is not available yet.")
