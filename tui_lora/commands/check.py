"""tui-lora check — validate images: corrupt, tiny, extreme aspect, alpha"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "validate images: corrupt, tiny, extreme aspect, alpha"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--fix", action="store_true")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora check is being built in this checkout; it is not available yet.")
