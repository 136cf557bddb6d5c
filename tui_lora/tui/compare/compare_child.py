"""The wizard's Compare step runs `tui-lora compare … --json --progress-json` in a child process
(common/child.py), so torch and the model never load into the TUI process. No textual here.

SIGTERM is the command's clean cancel: exit 130, no grid written.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_lora.core.childenv import child_env
from tui_lora.core.errors import UserError
from tui_lora.tui.common import child
from tui_lora.tui.common.child import Child, ChildEvent, parse_event  # noqa: F401 - the screen's names for them

CANCELLED = "Comparison cancelled; no grid was written."
WHAT = "The comparison"


def compare_command(root: Path, args: list[str]) -> list[str]:
    return child.command("compare", root, args)


def parse_result(stdout: str, returncode: int, stderr_tail: list[str]) -> dict[str, Any]:
    return child.parse_result(stdout, returncode, stderr_tail, cancelled=CANCELLED, what=WHAT)


def run_compare_child(root: Path, args: list[str], on_event: Callable[[ChildEvent], None],
                      started: Callable[[Child], None] = lambda c: None) -> dict[str, Any]:
    """Run the comparison to its end; ``started`` receives the child (to cancel it)."""
    return child.run_child(compare_command(root, args), on_event, cancelled=CANCELLED, what=WHAT, started=started,
                       name="compare")


def run_pick(root: Path, pick: int | str, weight: float, timeout: float = 300) -> dict[str, Any]:
    """`tui-lora compare --pick` (safetensors' torch loader lives there, not in the wizard); ``pick`` is
    an epoch, "final", or a sweep variant's ``LABEL:EPOCH``."""
    cmd = [sys.executable, "-m", "tui_lora", "compare", str(root), "--pick", str(pick), "--weight", f"{weight:g}",
           "--json"]
    try:
        r = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                           errors="replace", env=child_env(), timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise UserError(f"Keeping {pick} took over {timeout:.0f} s and was stopped; try again.") from None
    return parse_result(r.stdout, r.returncode, r.stderr.splitlines()[-20:])
