"""``state/sweep/sweep.json``: which variants the project's sweep trains (written once when it starts;
``--resume`` reads it back). Each variant's own progress is its run record and events
(:mod:`tui_lora.core.sweep.variant`), so this file never changes while the sweep runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.fsutil import atomic_write_text
from tui_lora.core.sweep.spec import Variant, Vary
from tui_lora.core.sweep.variant import VariantProject, sweep_state_dir

if TYPE_CHECKING:
    from tui_lora.core.project import Project

MANIFEST = "sweep.json"


@dataclass
class SweepManifest:
    varies: list[Vary]
    variants: list[Variant]
    created: float = field(default_factory=time.time)
    gpus: int = 1
    device: str | None = None

    def variant(self, label: str) -> Variant | None:
        return next((v for v in self.variants if v.label == label), None)

    def view(self, project: Project, label: str) -> VariantProject:
        return VariantProject.of(project, label)

    @property
    def varied_keys(self) -> list[str]:
        return [v.key for v in self.varies]

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "created": self.created, "gpus": self.gpus, "device": self.device,
                "varies": [v.to_dict() for v in self.varies], "variants": [v.to_dict() for v in self.variants]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepManifest:
        return cls([Vary.from_dict(v) for v in d["varies"]], [Variant.from_dict(v) for v in d["variants"]],
                   float(d.get("created") or 0.0), int(d.get("gpus") or 1), d.get("device") or None)


def manifest_path(project: Project) -> Path:
    return sweep_state_dir(project) / MANIFEST


def read_manifest(project: Project) -> SweepManifest | None:
    """The project's sweep, or None when it never had one (or the file is not one tui-lora wrote)."""
    try:
        return SweepManifest.from_dict(json.loads(manifest_path(project).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_manifest(project: Project, manifest: SweepManifest) -> None:
    atomic_write_text(manifest_path(project), json.dumps(manifest.to_dict(), indent=1) + "\n")
