"""tui-lora demo — build a demo project with a tiny model and open the wizard on it"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "build a demo project with a tiny model and open the wizard on it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", metavar="DIR")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora demo is being built in this checkout; it is not available yet.")
