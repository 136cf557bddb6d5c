"""How the wizard reports errors: a ``UserError`` as its own sentence (its fix in the wizard's words,
tui/common/fixes.py), anything else as one line naming the log file that holds the traceback. Never a
traceback on screen."""

from __future__ import annotations

import datetime
import traceback
from pathlib import Path

from tui_lora.core.errors import UserError
from tui_lora.tui.common.fixes import say

LOG_NAME = "wizard.log"


def log_exception(exc: BaseException) -> Path | None:
    """Append ``exc``'s traceback to the user's log folder; None when that cannot be written."""
    try:
        from tui_lora.core.userconfig import user_log_dir

        folder = user_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOG_NAME
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')}\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return path
    except OSError:
        return None


def describe(exc: BaseException, here: str | None = None) -> str:
    """The one line a user sees for ``exc`` on the step ``here`` (unexpected errors are logged first)."""
    if isinstance(exc, UserError):
        return say(exc, here)
    path = log_exception(exc)
    where = f"details are in {path}" if path else "no log could be written"
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return f"Unexpected error ({detail}); {where}, please report it."
