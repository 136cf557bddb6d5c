"""One booru post, normalised across sites, and the caption written next to its image."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Tag categories in the order a caption lists them (Danbooru's convention); meta is dropped.
CATEGORY_ORDER: tuple[str, ...] = ("character", "copyright", "artist", "general")
CATEGORIES: tuple[str, ...] = CATEGORY_ORDER + ("meta",)

RATINGS: tuple[str, ...] = ("general", "sensitive", "questionable", "explicit")

# What training reads. avif/heic need Pillow plugins, so they count as unusable here.
USABLE_EXTENSIONS: frozenset[str] = frozenset({"jpg", "jpeg", "png", "webp", "bmp"})
_UNUSABLE_REASONS = {
    "gif": "animated gif",
    "mp4": "video",
    "webm": "video",
    "mkv": "video",
    "mov": "video",
    "avi": "video",
    "zip": "zip (ugoira animation)",
    "swf": "flash",
}

# Kaomoji keep their underscores (the WD14 tagger's list); every other tag gets spaces.
KAOMOJI: frozenset[str] = frozenset({
    "0_0", "(o)_(o)", "+_+", "+_-", "._.", "<o>_<o>", "<|>_<|>", "=_=", ">_<", "3_3", "6_9",
    ">_o", "@_@", "^_^", "o_o", "u_u", "x_x", "|_|", "||_||",
})

# Meta tags (Danbooru's category) that are also dropped when a site gives no categories.
COMMON_META: frozenset[str] = frozenset({
    "highres", "absurdres", "incredibly_absurdres", "lowres", "commentary", "commentary_request",
    "english_commentary", "translated", "translation_request", "check_translation", "partially_translated",
    "bad_id", "bad_pixiv_id", "bad_twitter_id", "bad_link", "md5_mismatch", "duplicate", "tagme",
    "artist_request", "character_request", "copyright_request", "source_request", "third-party_edit",
    "official_art", "scan", "jpeg_artifacts", "resized", "upscaled", "non-web_source", "photoshop_(medium)",
    "paid_reward_available", "revision", "animated", "video", "sound",
})

_EXT_RE = re.compile(r"^[a-z0-9]{1,5}$")


def normalise_rating(value: Any, *, letters_are_danbooru: bool = False) -> str | None:
    """Site rating → one of :data:`RATINGS` (None when unknown).

    Danbooru's letters are g/s/q/e with s = sensitive; old Gelbooru 0.2 sites say "safe".
    """
    if value is None:
        return None
    v = str(value).strip().lower()
    if letters_are_danbooru and len(v) == 1:
        return {"g": "general", "s": "sensitive", "q": "questionable", "e": "explicit"}.get(v)
    if v in RATINGS:
        return v
    return {"safe": "general", "s": "general", "q": "questionable", "e": "explicit"}.get(v)


def unusable_reason(ext: str) -> str | None:
    """Why a file type cannot be trained on, or None when it can."""
    ext = ext.lower().lstrip(".")
    if ext in USABLE_EXTENSIONS:
        return None
    return _UNUSABLE_REASONS.get(ext, f"unsupported file type .{ext}" if ext else "unknown file type")


def clean_extension(ext: str) -> str:
    """A file extension safe to put in a file name ('' when it is not plain ascii letters/digits)."""
    ext = ext.lower().lstrip(".")
    if ext == "jpeg":
        ext = "jpg"
    return ext if _EXT_RE.match(ext) else ""


def tag_to_caption(tag: str) -> str:
    """``long_hair`` → ``long hair``; kaomoji such as ``^_^`` stay as they are."""
    if tag in KAOMOJI or not any(c.isalnum() for c in tag.replace("_", "")):
        return tag
    return tag.replace("_", " ")


@dataclass(frozen=True)
class Post:
    """A post from any source, in one shape. ``tags`` maps a category to its tags (booru spelling).

    Tags whose category is unknown sit under "general" (after the known general tags they are
    indistinguishable from them, which is also how the site shows them).
    """

    source: str
    id: int
    file_url: str | None
    md5: str | None
    ext: str
    width: int | None = None
    height: int | None = None
    file_size: int | None = None
    sample_url: str | None = None
    rating: str | None = None
    score: int | None = None
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    categorised: bool = True

    @property
    def stem(self) -> str:
        return f"{self.source}_{self.id}"

    @property
    def filename(self) -> str:
        """``<source>_<id>.<ext>``: built from the id and a checked extension, never from the site's names."""
        return f"{self.stem}.{clean_extension(self.ext) or 'bin'}"

    @property
    def pixels(self) -> int | None:
        return self.width * self.height if self.width and self.height else None

    def all_tags(self) -> list[str]:
        out: list[str] = []
        for cat in CATEGORIES:
            out.extend(self.tags.get(cat, ()))
        return out

    def caption_tags(self) -> list[str]:
        """Tags for the caption: character, copyright, artist, general; meta dropped; no repeats.

        ``categorised`` False means the site gave a flat list (all under "general", in its order).
        """
        seen: set[str] = set()
        out: list[str] = []
        for cat in CATEGORY_ORDER:
            for tag in self.tags.get(cat, ()):
                if not tag or tag in COMMON_META:
                    continue
                text = tag_to_caption(tag)
                if text not in seen:
                    seen.add(text)
                    out.append(text)
        return out

    def caption(self) -> str:
        return ", ".join(self.caption_tags())

    def unusable_reason(self) -> str | None:
        return unusable_reason(self.ext)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (no URLs carry credentials: sites never put them in file URLs)."""
        return {
            "source": self.source,
            "id": self.id,
            "file_url": self.file_url,
            "sample_url": self.sample_url,
            "md5": self.md5,
            "ext": self.ext,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
            "rating": self.rating,
            "score": self.score,
            "tags": {k: list(v) for k, v in self.tags.items()},
            "caption": self.caption(),
        }


def unique(posts: list["Post"], key: Callable[["Post"], Any]) -> list["Post"]:
    """``posts`` in order, each ``key`` kept once (its first post)."""
    seen: set = set()
    out = []
    for p in posts:
        k = key(p)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out
