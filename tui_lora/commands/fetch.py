"""tui-lora fetch — search a booru and download images with their tags as captions"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg
from tui_lora.core.errors import UserError

HELP = "search a booru and download images with their tags as captions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--tags", required=True, help="tags to search, e.g. \"1girl solo -monochrome\"")
    p.add_argument("--source", choices=("gelbooru", "safebooru", "danbooru"), default="safebooru")
    p.add_argument("--limit", type=int, default=100, metavar="N")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--user-id")
    p.add_argument("--api-key")
    p.add_argument("--base-url")


def run(args: argparse.Namespace) -> int:
    raise UserError("tui-lora fetch is being built in this checkout; it is not available yet.")
