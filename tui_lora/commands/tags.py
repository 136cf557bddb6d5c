"""tui-lora tags — tag frequency table and bulk caption edits (undoable)"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "tag frequency table and bulk caption edits (undoable)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--top", type=int, metavar="N")
    p.add_argument("--remove", metavar="a,b")
    p.add_argument("--replace", metavar="a,b=c")
    p.add_argument("--trigger", metavar="WORD")
    p.add_argument("--undo", action="store_true")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora tags is being built in this checkout; it is not available yet.")
