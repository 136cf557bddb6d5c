"""What a download reports: progress snapshots while it runs, and the final report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays; ``eta_s`` is None until a first file has arrived."""

    total: int
    done: int
    downloaded: int
    existing: int
    skipped: int
    failed: int
    bytes: int
    elapsed_s: float
    bytes_per_s: float
    eta_s: float | None
    last: str | None = None


@dataclass
class ItemResult:
    post_id: int
    status: str  # "downloaded" | "exists" | "skipped" | "failed"
    path: Path | None = None
    reason: str = ""
    bytes: int = 0
    used_sample: bool = False
    connection_failed: bool = False  # failed because the connection to the image server failed (refused, dropped)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.post_id, "status": self.status, "path": str(self.path) if self.path else None,
                "reason": self.reason, "bytes": self.bytes, "used_sample": self.used_sample}


@dataclass
class DownloadReport:
    folder: Path
    total: int
    items: list[ItemResult] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    def _with(self, status: str) -> list[ItemResult]:
        return [i for i in self.items if i.status == status]

    @property
    def downloaded(self) -> list[ItemResult]:
        return self._with("downloaded")

    @property
    def existing(self) -> list[ItemResult]:
        return self._with("exists")

    @property
    def skipped(self) -> list[ItemResult]:
        return self._with("skipped")

    @property
    def failed(self) -> list[ItemResult]:
        return self._with("failed")

    @property
    def not_started(self) -> int:
        return self.total - len(self.items)

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder), "total": self.total, "downloaded": len(self.downloaded),
            "existing": len(self.existing), "skipped": len(self.skipped), "failed": len(self.failed),
            "not_started": self.not_started, "bytes": self.bytes, "seconds": round(self.seconds, 3),
            "cancelled": self.cancelled, "items": [i.to_dict() for i in self.items],
        }
