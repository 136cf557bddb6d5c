"""File-system side of the downloader: safe names, .part files, free space, verification."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from tui_lora.core.booru.errors import DiskFullError
from tui_lora.core.booru.posts import Post
from tui_lora.core.errors import ChangeInput, Fix
from tui_lora.core.dataset.folders import IMAGE_EXTENSIONS
from tui_lora.core.humanize import file_size as human_size

# Errors that mean "no room": a full disk, a quota, or a per-file size limit (ulimit -f).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# What the downloader names files: <source>_<id>.<ext>, nothing else.
SAFE_NAME = re.compile(r"^[a-z]+_[0-9]+\.[a-z0-9]{1,5}$")


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def verify_file(part: Path, md5: str | None) -> str | None:
    """None when ``part`` is the right file; otherwise what is wrong with it."""
    if md5:
        h = hashlib.md5()
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return None if h.hexdigest() == md5 else "checksum mismatch"
    from PIL import Image

    try:
        with Image.open(part) as im:
            im.load()
    except Exception:  # noqa: BLE001 - any decoder failure means "not a usable image"
        return "not a readable image"
    return None


def write_text_file(path: Path, text: str) -> None:
    """Write ``text`` via a hidden temp file, fsync and rename (the folder is fsynced by the caller).

    The temp file is created exclusively under a random name (never a predictable one a planted
    link could redirect), as files are everywhere in tui-lora.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # what a plain open() would have made (mkstemp makes 0600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def open_part(part: Path, *, append: bool) -> int:
    """A descriptor to write ``part``: appended to when resuming, else created fresh and exclusively.

    A ``.part`` name is predictable (that is what makes resuming possible), so it is opened without
    following links, and one that is not a plain file of its own (a link, a hard link to a file
    elsewhere) is removed and started over rather than written into.
    """
    if append:
        fd = os.open(part, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            return fd
        os.close(fd)
    remove_quietly(part)
    return os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)


def safe_target(dest: Path, name: str) -> Path:
    """``dest / name`` after checking that it cannot land anywhere but directly in ``dest``."""
    if not SAFE_NAME.match(name):
        raise ValueError(f"unsafe file name {name!r}")
    path = dest / name
    if path.is_symlink() or path.resolve().parent != dest:
        raise ValueError(f"{name} exists as a link out of the folder")
    return path


def part_size(part: Path) -> int:
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:  # a link or a hard link: not ours to resume
        remove_quietly(part)
        return 0
    return st.st_size


def present_stems(dest: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in dest.iterdir():
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file():
            out.setdefault(p.stem, p)
    return out


def trashed_stems(dest: Path) -> set[str]:
    """Stems of images the user moved to dataset/.trash (the project layout), so they stay out."""
    trash = dest.parent / ".trash"
    if not trash.is_dir():
        return set()
    return {p.stem for p in trash.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS}


def check_free_space(dest: Path, posts: Sequence[Post], present: dict[str, Path]) -> None:
    need = sum(p.file_size or 0 for p in posts if p.stem not in present)
    if not need:
        return
    free = shutil.disk_usage(dest).free
    if need > free:
        raise DiskFullError(f"These images need about {human_size(need)} but only {human_size(free)} is free for "
                            f"{dest}",
                            Fix("free some space or {}", ChangeInput("fetch.limit", verb="lower")))


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def url_ext(url: str) -> str:
    return Path(urlsplit(url).path).suffix.lstrip(".").lower()
