"""A variant seen as a project of its own: the same project.toml, dataset and caches, but its files in
``output/sweep/<label>/`` named ``<name>-<label>``, its events and log in ``logs/sweep/<label>/`` and
its resume state in ``state/sweep/<label>/``. The trainer, the run record and the compare code all
take it where they take a project, so a variant trains, stops and resumes exactly as a project does.
"""

from __future__ import annotations

import copy
from pathlib import Path

from tui_lora.core.project import Project

SWEEP = "sweep"


def sweep_output_dir(project: Project) -> Path:
    return project.root / "output" / SWEEP


def sweep_logs_dir(project: Project) -> Path:
    return project.root / "logs" / SWEEP


def sweep_state_dir(project: Project) -> Path:
    return project.root / "state" / SWEEP


class VariantProject(Project):
    """``project`` with a variant's folders and file names (settings: the project's; the variant's
    overrides are passed to the trainer like ``--set``)."""

    label: str
    base_output_name: str

    @classmethod
    def of(cls, project: Project, label: str) -> VariantProject:
        view = cls.__new__(cls)
        view.__dict__.update(copy.copy(project.__dict__))
        view.label = label
        view.base_output_name = project.output_name
        return view

    @property
    def output_name(self) -> str:  # type: ignore[override]
        return f"{self.base_output_name}-{self.label}"

    output_dir = property(lambda self: sweep_output_dir(self) / self.label)
    samples_dir = property(lambda self: sweep_output_dir(self) / self.label / "samples")
    logs_dir = property(lambda self: sweep_logs_dir(self) / self.label)
    events_path = property(lambda self: sweep_logs_dir(self) / self.label / "events.jsonl")
    train_log_path = property(lambda self: sweep_logs_dir(self) / self.label / "train.log")
    state_dir = property(lambda self: sweep_state_dir(self) / self.label)

    def ensure_layout(self) -> None:
        for d in (self.output_dir, self.logs_dir, self.state_dir):
            d.mkdir(parents=True, exist_ok=True)
