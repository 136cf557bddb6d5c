"""Caption files: read them robustly, parse and format comma-separated tags, write them safely.

Captions are kohya's same-name ``.txt`` files. Real datasets arrive with byte-order marks
(Windows Notepad), tabs, non-breaking and ideographic spaces, one tag per line, duplicated
tags, underscores from booru dumps and the odd UTF-16 or Latin-1 file. Reading never raises
for bad contents: a :class:`CaptionFile` carries an ``error`` instead, so a bulk operation can
skip and report that file. Writing is atomic, keeps the file's permission bits, and refuses
files the user made read-only.

Why the BOM matters: kohya opens captions as plain ``utf-8``, so a BOM becomes an invisible
``\\ufeff`` glued to the first tag, which is usually the trigger word. We never write one.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tui_lora.core.errors import Fix, TryAgain, UserError
from tui_lora.core.fsutil import atomic_open

# WD14's list (SmilingWolf's reference app): these keep their underscores.
KAOMOJIS: frozenset[str] = frozenset({
    "0_0", "(o)_(o)", "+_+", "+_-", "._.", "<o>_<o>", "<|>_<|>", "=_=", ">_<", "3_3", "6_9", ">_o",
    "@_@", "^_^", "o_o", "u_u", "x_x", "|_|", "||_||",
})

# Commas separate tags; so do line breaks (one-tag-per-line files) and the full-width comma
# that CJK input methods type.
_SEPARATORS = re.compile(r"[,\n\r\u2028\u2029\uff0c]")
# Invisible characters that break tag matching: zero-width spaces/joiners and stray BOMs.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def clean_tag(tag: str) -> str:
    """One tag with invisible characters removed and any run of whitespace made one space."""
    return " ".join(unicodedata.normalize("NFC", tag.translate(_INVISIBLE)).split())


def parse_tags(text: str) -> list[str]:
    """``"a,  b\\n c,,"`` → ``["a", "b", "c"]``: split, clean, drop empties; order and duplicates kept."""
    out = []
    for piece in _SEPARATORS.split(text):
        tag = clean_tag(piece)
        if tag:
            out.append(tag)
    return out


def format_tags(tags: list[str]) -> str:
    return ", ".join(tags)


def normalize_tag(tag: str) -> str:
    """How a tag is written by our tools: booru underscores become spaces, except in kaomoji."""
    tag = clean_tag(tag)
    return tag if tag in KAOMOJIS else tag.replace("_", " ")


def tag_key(tag: str) -> str:
    """The identity used to compare tags: ``Long_Hair`` = ``long hair``; ``\\(`` = ``(``; kaomoji exact."""
    tag = clean_tag(tag).replace("\\(", "(").replace("\\)", ")")
    if tag in KAOMOJIS:
        return tag
    return " ".join(tag.replace("_", " ").casefold().split())


def dedupe_tags(tags: list[str]) -> list[str]:
    """Keep the first occurrence of every tag (compared with :func:`tag_key`)."""
    seen: set[str] = set()
    out = []
    for t in tags:
        k = tag_key(t)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


@dataclass
class CaptionFile:
    """What is on disk for one caption. ``raw`` is None when the file does not exist."""

    path: Path
    raw: bytes | None = None
    text: str = ""
    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" (BOM) or "utf-16"
    error: str | None = None  # why the contents cannot be used (then ``tags`` is empty)
    unreadable: bool = False  # the file itself cannot be read (permissions, I/O), not just its text
    tags: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.raw is not None

    @property
    def empty(self) -> bool:
        """No tags: missing, blank, or whitespace only (an unreadable file is not "empty")."""
        return self.error is None and not self.tags

    @property
    def has_bom(self) -> bool:
        return self.encoding != "utf-8"

    def canonical_bytes(self, tags: list[str] | None = None) -> bytes:
        """The bytes we would write for ``tags`` (default: the current ones), keeping the file's
        trailing-newline habit: UTF-8, no BOM, ``", "`` between tags."""
        text = format_tags(self.tags if tags is None else tags)
        if text and self.text.endswith(("\n", "\r")):
            text += "\n"
        return text.encode("utf-8")

    @property
    def is_canonical(self) -> bool:
        """False when rewriting would fix something: a BOM, odd whitespace, duplicates, UTF-16."""
        if self.raw is None or self.error:
            return True
        return self.raw == self.canonical_bytes(dedupe_tags(self.tags))


def read_caption(path: str | os.PathLike[str]) -> CaptionFile:
    """Read and parse one caption file; never raises for missing or undecodable files."""
    path = Path(path)
    cf = CaptionFile(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return cf
    except OSError as exc:
        cf.raw, cf.unreadable = b"", True
        cf.error = f"cannot be read ({exc.strerror or exc})"
        return cf
    cf.raw = raw
    try:
        if raw.startswith(codecs.BOM_UTF8):
            cf.encoding, cf.text = "utf-8-sig", raw[3:].decode("utf-8")
        elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Windows "Unicode" text; unambiguous thanks to its BOM, so read it and write UTF-8 later.
            cf.encoding, cf.text = "utf-16", raw.decode("utf-16")
        else:
            cf.text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        cf.error = f"is not UTF-8 text (bad byte at position {exc.start}); re-save it as UTF-8"
        return cf
    if "\x00" in cf.text:
        cf.error = "contains NUL bytes, so it is not a text caption; replace it with a UTF-8 text file"
        cf.text = ""
        return cf
    cf.tags = parse_tags(cf.text)
    return cf


def decode_any(raw: bytes) -> tuple[str, str]:
    """Best-effort (text, encoding) of a caption in any encoding, for ``check --fix``, which
    re-saves it as UTF-8 after moving the original to the trash (so a wrong guess is restorable)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16"
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc).replace("\x00", ""), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1").replace("\x00", ""), "latin-1"  # latin-1 decodes every byte


def replace_tag(tags: list[str], old: str, new: list[str]) -> list[str]:
    """``old`` replaced in place by ``new``, tags already present not repeated (compared with
    :func:`tag_key`); the list is returned unchanged when ``old`` is not in it."""
    if tag_key(old) not in {tag_key(t) for t in tags}:
        return tags
    out: list[str] = []
    for t in tags:
        out.extend(new if tag_key(t) == tag_key(old) else [t])
    return dedupe_tags(out)


def caption_path(image: Path, extension: str = ".txt") -> Path:
    """``img.png`` → ``img.txt`` (kohya's same-name convention)."""
    ext = extension if extension.startswith(".") else "." + extension
    return image.with_name(image.stem + ext)


def read_only_reason(path: Path) -> str | None:
    """Why ``path`` may not be (over)written, or None. Mode bits count even for root, who could
    write anyway: a caption with every write bit cleared was made read-only on purpose."""
    if os.path.islink(path):  # replacing it would silently turn the user's link into a plain file
        return "it is a symbolic link (edit the file it points to, or replace the link with a copy)"
    try:
        st = path.stat()
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            return f"its folder {parent} does not exist"
        if not os.access(parent, os.W_OK | os.X_OK) or not (parent.stat().st_mode & 0o222):
            return f"its folder {parent} is read-only"
        return None
    except OSError as exc:
        return f"it cannot be inspected ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if not (st.st_mode & 0o222) or not os.access(path, os.W_OK):
        return "it is read-only"
    if not os.access(path.parent, os.W_OK | os.X_OK) or not (path.parent.stat().st_mode & 0o222):
        return f"its folder {path.parent} is read-only"
    return None


def write_bytes_preserving_mode(path: Path, data: bytes, mode: int | None = None) -> None:
    """Atomically replace ``path`` with ``data``, keeping its permission bits (or ``mode``)."""
    with atomic_open(path, "wb", permissions=mode) as fh:
        fh.write(data)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_caption(path: str | os.PathLike[str], tags: list[str] | str) -> None:
    """Write one caption (a tag list or a finished text) atomically; raise a UserError when the
    file is read-only. Undo does not cover this single-file write; bulk edits go through tagops."""
    path = Path(path)
    reason = read_only_reason(path)
    if reason:
        raise UserError(f"Cannot write the caption {path} because {reason}", Fix("make it writable and {}", TryAgain()))
    text = tags if isinstance(tags, str) else format_tags(tags)
    old = read_caption(path)
    data = text.encode("utf-8")
    if text and old.text.endswith(("\n", "\r")):
        data += b"\n"
    try:
        write_bytes_preserving_mode(path, data)
    except OSError as exc:
        raise UserError(f"Cannot write the caption {path} ({exc.strerror or exc})",
                        Fix("check the disk and permissions")) from None
