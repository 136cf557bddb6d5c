"""tui-lora status — show a training run: state, step, loss, ETA"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "show a training run: state, step, loss, ETA"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora status is being built in this checkout; it is not available yet.")
