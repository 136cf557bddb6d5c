"""Shared bits of the subcommands: the project argument, typed options, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_lora.core.project import Project


def add_project_arg(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    if optional:
        parser.add_argument("dir", nargs="?", metavar="DIR", help="the project folder")
    else:
        parser.add_argument("dir", metavar="DIR", help="the project folder")


def load_project(args: argparse.Namespace) -> Project:
    from tui_lora.core.project import Project  # here: `--help` never loads the settings schema

    return Project.load(args.dir)


def _number(kind: type, *, minimum: float | None = None, noun: str = "") -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        what = noun or ("a whole number" if kind is int else "a number")
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is too small; it must be at least {minimum:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


positive_int = _number(int, minimum=1)
non_negative_int = _number(int, minimum=0)
positive_float = _number(float, minimum=0)
fraction = _number(float, minimum=0, noun="a number between 0 and 1")


def csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def emit(args: argparse.Namespace, data: dict[str, Any], lines: Iterable[str] = ()) -> None:
    """Print ``data`` as JSON with --json, else the human ``lines``."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        for line in lines:
            print(line)
    sys.stdout.flush()


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
