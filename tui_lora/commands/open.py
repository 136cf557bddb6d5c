"""tui-lora open DIR — the wizard on one project (and `tui-lora` alone: the project picker)."""

from __future__ import annotations

import argparse
import sys

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "open the wizard on a project"
DESCRIPTION = ("Open the full-screen wizard on a project folder. Without a subcommand, `tui-lora` opens "
               "it on the start screen: recent projects, a new project, or a folder to open.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)


def run(args: argparse.Namespace) -> int:
    if args.json:
        raise UserError("The wizard is interactive and has no --json output; use `tui-lora status DIR --json`.")
    return open_wizard(args.dir)


def open_wizard(directory: str | None) -> int:
    """Run the wizard (on ``directory``'s project when given); returns the exit code."""
    project = None
    if directory is not None:
        from tui_lora.core.project import Project

        project = Project.load(directory)  # a bad folder is one sentence here, before the screen opens
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("The wizard needs a terminal; in scripts use the headless commands (tui-lora --help).")
    from tui_lora.tui.common import images

    images.start_detection()  # asks the terminal about graphics while the app's modules import
    from tui_lora.tui.app import run_wizard

    return run_wizard(project)
