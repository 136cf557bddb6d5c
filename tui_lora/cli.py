"""The ``tui-lora`` command: one subcommand per core action, ``--json`` everywhere.

Each subcommand lives in ``tui_lora/commands/<name>.py`` with ``HELP``, ``add_arguments``
and ``run``. This module only builds the parser, dispatches, and turns errors into one
plain sentence (never a traceback). It must stay light: no torch, no textual at import.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from collections.abc import Callable, Sequence

from tui_lora import __version__
from tui_lora.core.errors import UserError

# Subcommands in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "open",
    "new",
    "demo",
    "fetch",
    "check",
    "dedupe",
    "restore",
    "crop",
    "tag",
    "tags",
    "steps",
    "train",
    "status",
    "stop",
    "compare",
    "export",
    "sweep",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one sentence with the fix."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = message[0].upper() + message[1:] if message else message
        hint = f"run `{self.prog} --help` for the options"
        if "--json" in sys.argv:
            print(json.dumps({"error": f"{message}; {hint}.", "exit_code": 2, "fix": {"text": hint, "steps": []}}))
        else:
            print(f"{self.prog}: {message}; {hint}.", file=sys.stderr)
        raise SystemExit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``only`` a parser holding just that subcommand: importing every
    command module costs start-up time the wizard and a single command need not pay."""
    parser = _Parser(
        prog="tui-lora",
        description="Make Stable Diffusion LoRAs (SD1.5 and SDXL) from the terminal. "
        "Without a subcommand, opens the wizard.",
    )
    parser.add_argument("--version", action="version", version=f"tui-lora {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in (only,) if only else COMMANDS:
        mod = _command_module(name)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    return parser


def _command_module(name: str):
    return importlib.import_module(f"tui_lora.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return _guarded(lambda: _open_wizard(None), want_json=False)
    parser = build_parser(only=argv[0] if argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    return _guarded(lambda: int(_command_module(args.command).run(args) or 0), bool(getattr(args, "json", False)))


def _open_wizard(directory: str | None) -> int:
    from tui_lora.commands.open import open_wizard

    return open_wizard(directory)


def _guarded(action: Callable[[], int], want_json: bool) -> int:
    """Run a command, turning every failure into one sentence and an exit code."""
    try:
        return action()
    except UserError as exc:
        from tui_lora.commands._fixes import error_data

        data = error_data(exc)
        if want_json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            print(f"error: {data['error']}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _report("Interrupted; finished work is kept and re-running the command picks up where it stopped.", 130, want_json)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        path = _save_traceback()
        _report(f"Unexpected error ({type(exc).__name__}: {exc}); details are in {path}, please report them.", 1, want_json)
        return 1


def _report(message: str, code: int, want_json: bool) -> None:
    if want_json:
        print(json.dumps({"error": message, "exit_code": code, "fix": None}))
    else:
        print(f"error: {message}", file=sys.stderr)


def _save_traceback() -> str:
    try:
        from tui_lora.core.userconfig import user_log_dir

        d = user_log_dir()
        d.mkdir(parents=True, exist_ok=True)
        path = d / "crash.log"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc() + "\n")
        return str(path)
    except OSError:
        return "(no log could be written)"


if __name__ == "__main__":
    raise SystemExit(main())
