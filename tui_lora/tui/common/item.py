"""One picture the wizard shows in a grid cell or a preview: a dataset file, a trash entry, or a
training sample (the Review grid, its viewer and the Train step's sample all draw an :class:`Item`).

No textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.dataset.checks import Severity
from tui_lora.core.dataset.records import FileRecord

if TYPE_CHECKING:
    from tui_lora.core.dataset.dedupe import Member
    from tui_lora.core.dataset.trash import TrashEntry


@dataclass
class Item:
    """One cell of the grid."""

    key: str  # unique in the view: the file's path, or a trash entry's id
    path: Path  # the file to draw (in dataset/, or inside the trash)
    name: str
    record: FileRecord | None = None
    sha256: str | None = None
    entry: "TrashEntry | None" = None
    group: int | None = None  # duplicates view: the group's number (0-based)
    member: "Member | None" = None
    keeper: bool = False  # duplicates view: the suggested one to keep

    @property
    def thumb_key(self) -> str:
        """Names the picture, not the place: a fixed or restored file gets a new thumbnail."""
        return f"{self.key}@{self.sha256 or ''}"

    @property
    def is_image(self) -> bool:
        if self.record is not None:
            return self.record.kind == "image"
        return self.path.suffix.lower() not in (".txt", ".caption")

    @property
    def readable(self) -> bool:
        """Worth asking for a thumbnail (a trashed file is tried; a broken one just fails)."""
        if self.record is not None:
            return self.record.readable
        return self.is_image

    @property
    def severity(self) -> Severity | None:
        return self.record.severity if self.record is not None else None

    @property
    def fixable(self) -> bool:
        return self.record is not None and self.record.fixable
