"""The few caption reads and writes the review tools need (checks, --fix, trash).

Private to the review modules: caption editing proper (tag operations, undo) lives elsewhere.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

# What a caption written in a legacy encoding most likely is, tried in order.
_FALLBACK_ENCODINGS = ("utf-16", "cp1252", "latin-1")


@dataclass(frozen=True)
class CaptionText:
    text: str
    valid_utf8: bool  # False: decoded with a fallback encoding, or had a BOM kohya would keep
    encoding: str


def caption_path(image: Path, extension: str = ".txt") -> Path:
    return image.with_name(image.stem + extension)


def read_caption(path: Path) -> CaptionText:
    """Decode a caption; invalid UTF-8 falls back to the likeliest legacy encoding.

    kohya opens captions as plain UTF-8, so a byte-order mark ends up glued to the first tag
    (the trigger word): that counts as not valid here too.
    """
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return CaptionText(data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), False, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return CaptionText(data.decode("utf-16", errors="replace"), False, "utf-16")
    try:
        return CaptionText(data.decode("utf-8"), True, "utf-8")
    except UnicodeDecodeError:
        pass
    for enc in _FALLBACK_ENCODINGS[1:]:
        try:
            return CaptionText(data.decode(enc), False, enc)
        except UnicodeDecodeError:
            continue
    return CaptionText(data.decode("latin-1"), False, "latin-1")  # pragma: no cover - latin-1 never fails


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


def replace_tag(text: str, old: str, new: list[str]) -> str:
    """Replace the tag ``old`` with ``new`` (in its place), dropping tags already present."""
    tags = split_tags(text)
    if old not in tags:
        return text
    out: list[str] = []
    for t in tags:
        for n in ([*new] if t == old else [t]):
            if n not in out:
                out.append(n)
    return ", ".join(out)
