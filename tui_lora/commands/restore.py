"""tui-lora restore — bring images back from dataset/.trash"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "bring images back from dataset/.trash"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora restore is being built in this checkout; it is not available yet.")
