"""What a dataset scan returns: per-file records and the report that holds them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset.checks import Issue, Problem, Severity

if TYPE_CHECKING:  # pragma: no cover
    from tui_lora.core.project import Project


@dataclass
class Limits:
    """The thresholds a scan applies, from the project's family and resolution."""

    family: str = "sd15"
    resolution: int = 512
    caption_extension: str = ".txt"

    @classmethod
    def for_project(cls, project: "Project") -> "Limits":
        d = project.settings["dataset"]
        return cls(project.family, int(d["resolution"]), d["caption_extension"] or ".txt")

    def too_small(self, w: int, h: int) -> str | None:
        if self.family == "sdxl":
            # SDXL buckets hold ~1 megapixel at any aspect (832×1216 included), so compare area.
            need = 0.9 * self.resolution ** 2
            if w * h < need:
                return (f"{w}×{h} is {w * h / 1e6:.2f} megapixels; SDXL trains at about "
                        f"{self.resolution ** 2 / 1e6:.1f} ({self.resolution}×{self.resolution})")
            return None
        if min(w, h) < self.resolution:
            return f"{w}×{h}: the short side is under {self.resolution} px"
        return None


@dataclass
class FileRecord:
    """One file in dataset/ and what is wrong with it (``issues`` empty when it is fine)."""

    path: Path
    rel: str  # relative to dataset/, with forward slashes
    concept: str | None  # the <N>_<name> folder it is in; None outside one
    kind: str  # "image" or "caption"
    size_bytes: int = 0
    sha256: str | None = None
    format: str | None = None
    width: int = 0
    height: int = 0
    mode: str = ""
    frames: int = 1
    transparent: bool = False
    orientation: int = 1
    caption: Path | None = None  # an image's caption file, when it exists
    issues: list[Issue] = field(default_factory=list)
    fingerprint: bytes | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def readable(self) -> bool:
        """The image decodes (whatever its other problems)."""
        return self.kind == "image" and self.fingerprint is not None

    @property
    def fixable(self) -> bool:
        return any(i.fixable for i in self.issues)

    @property
    def severity(self) -> Severity | None:
        if not self.issues:
            return None
        return Severity.ERROR if any(i.severity is Severity.ERROR for i in self.issues) else Severity.WARNING

    def has(self, code: Problem) -> bool:
        return any(i.code is code for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": str(self.path), "rel": self.rel, "concept": self.concept, "kind": self.kind,
                             "size_bytes": self.size_bytes, "sha256": self.sha256}
        if self.kind == "image":
            d.update(format=self.format, width=self.width, height=self.height, mode=self.mode,
                     frames=self.frames, transparent=self.transparent,
                     caption=str(self.caption) if self.caption else None)
        d["issues"] = [i.to_dict() for i in self.issues]
        return d


@dataclass
class ScanReport:
    dataset_dir: Path
    records: list[FileRecord]
    limits: Limits
    stray_folders: list[Path] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    decoded: int = 0  # images read and decoded this time
    cached: int = 0  # images unchanged since the last scan (size and mtime matched: not even read)
    rehashed: int = 0  # changed name or mtime but known content: read and hashed, not decoded

    @property
    def images(self) -> list[FileRecord]:
        return [r for r in self.records if r.kind == "image"]

    @property
    def with_issues(self) -> list[FileRecord]:
        return [r for r in self.records if r.issues]

    def counts(self) -> dict[Problem, int]:
        c = Counter(i.code for r in self.records for i in r.issues)
        return {p: c[p] for p in Problem if c[p]}

    @property
    def errors(self) -> int:
        return sum(1 for r in self.records if r.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for r in self.records if r.severity is Severity.WARNING)

    def record(self, path: Path) -> FileRecord | None:
        path = Path(path)
        return next((r for r in self.records if r.path == path), None)

    def to_dict(self, *, include_ok: bool = False) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset_dir),
            "images": len(self.images),
            "files_with_issues": len(self.with_issues),
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": {p.value: n for p, n in self.counts().items()},
            "stray_folders": [str(p) for p in self.stray_folders],
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "decoded": self.decoded,
            "cached": self.cached,
            "rehashed": self.rehashed,
            "files": [r.to_dict() for r in self.records if include_ok or r.issues],
        }
