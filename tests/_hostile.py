"""Helpers for the hostile-input tests (issue 14): what "nothing outside changed" and "one sentence" mean."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (itself included): kind, mode bits and bytes (or link target).

    Comparing two of these proves a folder unchanged byte for byte, modes included.
    """
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name if name != "." else Path(dirpath)
            st = os.lstat(p)
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return out


def make_outside(tmp_path: Path) -> Path:
    """A sibling folder of the project with files an attacker would like to read, move or delete."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "victim.txt").write_text("precious\n")
    (out / "victim.txt").chmod(0o640)
    (out / "keys").mkdir()
    (out / "keys" / "id").write_bytes(b"secret key bytes")
    return out


def one_sentence(text: str) -> str:
    """The single error line of a CLI run (stderr or a message), checked: one line, no traceback."""
    text = text.strip()
    assert "Traceback" not in text and "Unexpected error" not in text, text
    assert "\n" not in text, text
    if text.startswith("error: "):
        text = text[len("error: "):]
    assert not text[:1].islower() and text.endswith("."), text
    return text
