"""The environment for a child Python that runs tui-lora (a detached training, the wizard's compare
renderer, the demo's model builder)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``, with this package first on PYTHONPATH (so a child
    runs the same code from a checkout, not only when installed) and unbuffered output (its progress
    reaches a log file or a pipe as it happens)."""
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
