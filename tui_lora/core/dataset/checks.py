"""The problems a dataset review reports: codes, one-line descriptions, and what --fix does."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # training cannot use the file (or silently ignores it)
    WARNING = "warning"  # training works, but the result suffers


class Problem(str, Enum):
    """A problem code; ``str`` so it serialises as its value in JSON."""

    EMPTY = "empty"
    NOT_IMAGE = "not_image"
    CORRUPT = "corrupt"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    OUTSIDE_CONCEPT = "outside_concept"
    TOO_SMALL = "too_small"
    EXTREME_ASPECT = "extreme_aspect"
    TRANSPARENCY = "transparency"
    ANIMATED = "animated"
    COLOR_MODE = "color_mode"
    ROTATED = "rotated"
    SAME_NAME = "same_name"
    MISSING_CAPTION = "missing_caption"
    EMPTY_CAPTION = "empty_caption"
    CAPTION_ENCODING = "caption_encoding"
    ORPHAN_CAPTION = "orphan_caption"
    LINK = "link"

    @property
    def info(self) -> "ProblemInfo":
        return PROBLEMS[self]

    @property
    def severity(self) -> Severity:
        return PROBLEMS[self].severity

    @property
    def fixable(self) -> bool:
        return PROBLEMS[self].fix is not None


@dataclass(frozen=True)
class ProblemInfo:
    severity: Severity
    title: str  # one line for a report heading or a tooltip
    fix: str | None  # what `check --fix` does about it; None when it needs a person
    advice: str  # what to do when --fix does not handle it (or why it matters)


E, W = Severity.ERROR, Severity.WARNING
TRASH = "moves it (and its caption) to dataset/.trash/"

PROBLEMS: dict[Problem, ProblemInfo] = {
    Problem.EMPTY: ProblemInfo(E, "empty file (0 bytes)", TRASH, "an interrupted download; fetch it again"),
    Problem.NOT_IMAGE: ProblemInfo(E, "not an image", TRASH, "often an error page saved by a downloader"),
    Problem.CORRUPT: ProblemInfo(E, "corrupt or truncated image", TRASH, "re-download or re-export it"),
    Problem.UNREADABLE: ProblemInfo(E, "cannot be read", None, "check the file's permissions"),
    Problem.TOO_LARGE: ProblemInfo(
        E, "too large to open safely (possible decompression bomb)", TRASH,
        "downscale it to at most 4096 px on the long side with an image editor"),
    Problem.UNSUPPORTED: ProblemInfo(
        E, "format training skips (GIF, TIFF)", "converts it to PNG (first frame); the original goes to .trash/",
        "convert it to PNG or JPEG"),
    Problem.OUTSIDE_CONCEPT: ProblemInfo(
        E, "outside a <repeats>_<name> folder, so training ignores it", None,
        "move it into a folder such as dataset/10_mychar/"),
    Problem.TOO_SMALL: ProblemInfo(
        W, "smaller than the training resolution (it will be upscaled and look soft)", None,
        "replace it with a larger version or remove it"),
    Problem.EXTREME_ASPECT: ProblemInfo(
        W, "aspect ratio beyond 3:1 (buckets squeeze or crop it hard)", None,
        "crop it with `tui-lora crop` or remove it"),
    Problem.TRANSPARENCY: ProblemInfo(
        W, "transparent pixels (training sees them as black or noise)",
        "composites it onto white and replaces the caption tag `transparent background` with "
        "`white background, simple background`", "flatten it onto a background"),
    Problem.ANIMATED: ProblemInfo(
        W, "animated (only the first frame is trained)", "keeps the first frame as a still image",
        "export the frame you want"),
    Problem.COLOR_MODE: ProblemInfo(
        W, "not stored as RGB (CMYK, palette or grey+alpha colours can shift)", "converts it to RGB",
        "convert it to RGB"),
    Problem.ROTATED: ProblemInfo(
        W, "rotated by EXIF orientation (trainers read it sideways)", "applies the rotation to the pixels",
        "rotate it in an image editor"),
    Problem.SAME_NAME: ProblemInfo(
        W, "another image has the same name, so both share one caption", None,
        "rename one of them (and give it its own caption)"),
    Problem.MISSING_CAPTION: ProblemInfo(
        W, "no caption file", None, "tag the dataset with `tui-lora tag DIR`"),
    Problem.EMPTY_CAPTION: ProblemInfo(
        W, "empty caption", None, "tag it with `tui-lora tag DIR` or write one"),
    Problem.CAPTION_ENCODING: ProblemInfo(
        W, "caption is not plain UTF-8 (tags come out garbled)", "re-saves it as UTF-8; the original goes to .trash/",
        "save it as UTF-8"),
    Problem.ORPHAN_CAPTION: ProblemInfo(
        W, "caption without an image", TRASH.replace(" (and its caption)", ""),
        "delete it or add its image"),
    Problem.LINK: ProblemInfo(
        W, "a symbolic link, which tui-lora's fixes, dedupe, crop and caption edits leave alone", None,
        "replace the link with a copy of the file if tui-lora should manage it"),
}


@dataclass(frozen=True)
class Issue:
    """One problem found in one file, with the file-specific detail."""

    code: Problem
    detail: str = ""

    @property
    def severity(self) -> Severity:
        return self.code.severity

    @property
    def fixable(self) -> bool:
        return self.code.fixable

    def describe(self) -> str:
        title = self.code.info.title
        return f"{title}: {self.detail}" if self.detail else title

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "severity": self.severity.value, "message": self.describe(),
                "fixable": self.fixable}
