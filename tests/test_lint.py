"""ruff, with the rules in pyproject.toml, over the product, the tests and the benchmarks: CI runs the
suite, so CI runs the linter."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "tui_lora", "tests", "benchmarks"],
                       cwd=REPO, capture_output=True, text=True)
    assert "No module named ruff" not in r.stderr, "ruff is missing: pip install -e '.[dev]'"
    assert r.returncode == 0, r.stdout + r.stderr
