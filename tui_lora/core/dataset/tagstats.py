"""Reading a dataset's captions: the frequency table, tag search, and the shared matcher.

The read-only half of the tag tools (``tagops.py`` holds the writing half and re-exports all
of this). Tags are compared by :func:`captions.tag_key`: case, underscores and escaped
parentheses do not matter; a query with ``*``, ``?`` or ``[`` is a glob (``* (azur lane)``).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset.captions import (
    CaptionFile, caption_path, dedupe_tags, normalize_tag, read_caption, tag_key,
)
from tui_lora.core.dataset.folders import list_images

_WILDCARDS = set("*?[")


@dataclass
class CaptionEntry:
    """One training image and its caption file."""

    image: Path
    caption: CaptionFile

    @property
    def path(self) -> Path:
        return self.caption.path

    @property
    def tags(self) -> list[str]:
        return self.caption.tags


def _relativizer(root: Path | None) -> Callable[[Path], str]:
    def rel(p: Path) -> str:
        if root is not None:
            try:
                return p.relative_to(root).as_posix()
            except ValueError:
                pass
        return str(p)

    return rel


def caption_extension(project) -> str:
    return project.settings["dataset"]["caption_extension"] or ".txt"


def load_captions(project) -> list[CaptionEntry]:
    """Every image of every ``<N>_<name>`` concept folder with its (possibly missing) caption."""
    ext = caption_extension(project)
    out = []
    for concept in project.concepts():
        for image in list_images(concept.path):
            out.append(CaptionEntry(image, read_caption(caption_path(image, ext))))
    return out


def read_image_caption(project, image: str | Path) -> CaptionFile:
    """The caption of one image (the wizard's caption editor)."""
    return read_caption(caption_path(Path(image), caption_extension(project)))


@dataclass
class TagCount:
    tag: str
    images: int
    percent: float

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "images": self.images, "percent": round(self.percent, 1)}


@dataclass
class FrequencyTable:
    rows: list[TagCount]
    images: int  # images in the dataset
    captioned: int  # images whose caption has at least one tag
    unique_tags: int
    trigger: str
    without_trigger_first: int  # captioned images whose first tag is not the trigger word
    needs_cleaning: int  # captions with a BOM, odd whitespace, duplicates or UTF-16
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        rel = _relativizer(root)
        return {"images": self.images, "captioned": self.captioned, "uncaptioned": self.images - self.captioned
                - len(self.unreadable), "unique_tags": self.unique_tags, "trigger": self.trigger,
                "without_trigger_first": self.without_trigger_first, "needs_cleaning": self.needs_cleaning,
                "unreadable": [{"path": rel(p), "reason": r} for p, r in self.unreadable],
                "tags": [r.to_dict() for r in self.rows]}


def frequency_table(project, *, top: int | None = None, entries: list[CaptionEntry] | None = None) -> FrequencyTable:
    """How many images carry each tag (counted once per image), most frequent first."""
    entries = load_captions(project) if entries is None else entries
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    captioned = without_trigger = needs_cleaning = 0
    unreadable = []
    trigger = project.settings["project"]["trigger_word"]
    for e in entries:
        if e.caption.error:
            unreadable.append((e.path, e.caption.error))
            continue
        if not e.caption.is_canonical:
            needs_cleaning += 1
        if not e.tags:
            continue
        captioned += 1
        if trigger and tag_key(e.tags[0]) != tag_key(trigger):
            without_trigger += 1
        for t in dedupe_tags(e.tags):
            k = tag_key(t)
            counts[k] += 1
            spellings.setdefault(k, Counter())[normalize_tag(t)] += 1
    total = len(entries)
    rows = [TagCount(_display(spellings[k]), n, 100.0 * n / total if total else 0.0)
            for k, n in counts.items()]
    rows.sort(key=lambda r: (-r.images, r.tag.casefold()))
    return FrequencyTable(rows[:top] if top else rows, total, captioned, len(counts), trigger, without_trigger,
                          needs_cleaning, unreadable)


def _display(spellings: Counter[str]) -> str:
    """The most used spelling of a tag; on a tie the lower-case one (booru style)."""
    return max(spellings.items(), key=lambda kv: (kv[1], kv[0] == kv[0].lower()))[0]


def _matcher(queries: Iterable[str]) -> Callable[[str], bool]:
    """A predicate on tags: exact (by tag_key) for plain queries, glob for ones with * ? [."""
    exact, globs = set(), []
    for q in queries:
        k = tag_key(q)
        if not k:
            continue
        (globs.append(k) if _WILDCARDS & set(k) else exact.add(k))
    return lambda tag: (k := tag_key(tag)) in exact or any(fnmatch.fnmatchcase(k, g) for g in globs)


@dataclass
class Found:
    image: Path
    caption: Path
    tags: list[str]
    matched: list[str]


def find_images(project, query: str | list[str]) -> list[Found]:
    """Images whose caption has a tag matching ``query`` (a tag, or a glob such as ``* (azur lane)``)."""
    queries = [query] if isinstance(query, str) else query
    match = _matcher(queries)
    out = []
    for e in load_captions(project):
        hits = [t for t in e.tags if match(t)]
        if hits:
            out.append(Found(e.image, e.path, e.tags, hits))
    return out


