"""The epoch x weight comparison: plan it (cheap checks), render every cell, write the grid and its index.

``output/samples/compare-<time>.png`` holds rows = epochs, columns = no LoRA + each weight; the
JSON index next to it (same name, ``.json``) lists every cell with its epoch, weight, file, seed and
box in the grid, so the wizard can crop a cell to zoom in and hand the pick to :func:`pick_best`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.compare.files import EpochFile, select_epochs
from tui_lora.core.fsutil import atomic_write_bytes, atomic_write_text
from tui_lora.core.sample_prompts import SamplePrompt

if TYPE_CHECKING:
    from tui_lora.core.compare.pipeline import ComparePipeline
    from tui_lora.core.project import Project

DEFAULT_WEIGHTS = (0.6, 0.8, 1.0)
Progress = Callable[[int, int, str], None]  # (cells done, cells in all, what is being rendered)


@dataclass
class ComparePlan:
    prompt: SamplePrompt  # resolved: every field set
    rows: list[EpochFile]
    weights: list[float]
    grid_path: Path
    index_path: Path

    @property
    def total_cells(self) -> int:
        return 1 + len(self.rows) * len(self.weights)  # the no-LoRA image is rendered once

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt.to_dict(), "rows": [r.to_dict() for r in self.rows], "weights": self.weights,
                "grid": str(self.grid_path), "index": str(self.index_path)}


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    epoch: int | None  # None: the no-LoRA column
    weight: float
    file: Path | None
    seed: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the picture in the grid PNG

    @property
    def lora(self) -> bool:
        return self.file is not None

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "col": self.col, "epoch": self.epoch, "weight": self.weight,
                "file": str(self.file) if self.file else None, "lora": self.lora, "seed": self.seed,
                "box": list(self.box)}

    @classmethod
    def from_dict(cls, c: dict[str, Any]) -> Cell:
        """A cell as the JSON index holds it (what :meth:`to_dict` wrote)."""
        x0, y0, x1, y1 = (int(v) for v in c["box"])
        return cls(int(c["row"]), int(c["col"]), None if c.get("epoch") is None else int(c["epoch"]),
                   float(c.get("weight") or 0.0), Path(c["file"]) if c.get("file") else None,
                   int(c.get("seed") or 0), (x0, y0, x1, y1))


@dataclass
class CompareResult:
    plan: ComparePlan
    cells: list[Cell] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def grid_path(self) -> Path | None:
        return None if self.cancelled else self.plan.grid_path

    @property
    def index_path(self) -> Path | None:
        return None if self.cancelled else self.plan.index_path

    def to_dict(self) -> dict[str, Any]:
        return {"grid": str(self.grid_path) if self.grid_path else None,
                "index": str(self.index_path) if self.index_path else None, "size": list(self.size),
                "cells": [c.to_dict() for c in self.cells], "seconds": round(self.seconds, 1),
                "cancelled": self.cancelled}


class _Cancelled(Exception):
    pass


def default_grid_path(project: Project) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = project.samples_dir / f"compare-{stamp}.png"
    n = 2
    while path.exists() or path.with_suffix(".json").exists():
        path = project.samples_dir / f"compare-{stamp}-{n}.png"
        n += 1
    return path


def plan_compare(project: Project, prompt: SamplePrompt, *, epochs: list[int | str] | None = None,
                 weights: list[float] | None = None, out: Path | None = None) -> ComparePlan:
    """Check the request against the files on disk (no torch): unknown epochs are a UserError.
    ``prompt`` fields left as None take the project's defaults (resolution, training.seed, sampler)."""
    s = project.settings
    resolved = prompt.resolved(index=0, base_seed=s.training.seed, size=s.dataset.resolution,
                               sampler=s.sample.sampler)
    rows = select_epochs(project, epochs)
    grid = Path(out) if out else default_grid_path(project)
    if grid.suffix.lower() != ".png":
        grid = grid.with_suffix(".png")
    return ComparePlan(resolved, rows, list(weights or DEFAULT_WEIGHTS), grid, grid.with_suffix(".json"))


def run_compare(project: Project, plan: ComparePlan, *, pipeline: ComparePipeline | None = None,
                device: str | None = None,
                base_model: str | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None, log: Callable[[str], None] = lambda m: None,
                warn: Callable[[str], None] = lambda m: None) -> CompareResult:
    """Render the grid of ``plan`` and write it with its index. ``pipeline`` (a loaded
    :class:`ComparePipeline`) is reused when given, so the wizard loads the base model once."""
    from tui_lora.core.compare.grid import draw_grid, layout_grid
    from tui_lora.core.compare.pipeline import ComparePipeline
    from tui_lora.core.train.pipeline import png_bytes, sampler_label

    t0 = time.monotonic()
    cancel = cancel or threading.Event()
    progress = progress or (lambda done, total, what: None)
    result = CompareResult(plan)
    if pipeline is None:
        log("loading the base model")
        pipeline = ComparePipeline.load(project, base_model=base_model, device=device, log=log, warn=warn)
    sp = plan.prompt
    total = plan.total_cells
    row_labels = [r.label for r in plan.rows]
    col_labels = ["no LoRA"] + [f"weight {w:g}" for w in plan.weights]
    layout = layout_grid(len(plan.rows), len(col_labels), sp.width, sp.height, row_labels)
    images: dict[tuple[int, int], Any] = {}
    done = 0

    def cell(what: str, lora: Path | None, weight: float):
        if cancel.is_set():
            raise _Cancelled
        progress(done, total, what)
        pipeline.use_lora(lora, weight)
        image = pipeline.render(sp, cancel=cancel)
        if image is None:
            raise _Cancelled
        return image

    try:
        baseline = cell("no LoRA", None, 0.0)
        done += 1
        for r, row in enumerate(plan.rows):
            images[(r, 0)] = baseline
            result.cells.append(Cell(r, 0, None, 0.0, None, sp.seed, layout.box(r, 0)))
            for c, w in enumerate(plan.weights, start=1):
                images[(r, c)] = cell(f"{row.label} at weight {w:g}", row.path, w)
                result.cells.append(Cell(r, c, row.epoch, w, row.path, sp.seed, layout.box(r, c)))
                done += 1
    except _Cancelled:
        result.cancelled = True
        result.cells = []
        result.seconds = time.monotonic() - t0
        return result
    finally:
        pipeline.use_lora(None)  # a reused pipeline starts clean
    progress(total, total, "writing the grid")
    title = [sp.prompt + (f"  |  negative: {sp.negative}" if sp.negative else ""),
             f"seed {sp.seed} · {sampler_label(sp.sampler)} · {sp.steps} steps · CFG {sp.cfg:g} · "
             f"{sp.width}x{sp.height} · {pipeline.base.name}"]
    grid = draw_grid(images, layout, row_labels=row_labels, col_labels=col_labels, title=title)
    result.size = grid.size
    atomic_write_bytes(plan.grid_path, png_bytes(grid))
    index = {
        "version": 1, "grid": plan.grid_path.name, "size": list(grid.size), "base_model": pipeline.base.name,
        **sp.to_dict(), "sampler_label": sampler_label(sp.sampler),
        "rows": [r.to_dict() for r in plan.rows],
        "columns": [{"weight": None, "label": "no LoRA"}] + [{"weight": w, "label": f"weight {w:g}"}
                                                              for w in plan.weights],
        "cells": [c.to_dict() for c in result.cells],
    }
    atomic_write_text(plan.index_path, json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    result.seconds = time.monotonic() - t0
    return result


def read_index(path: Path) -> dict[str, Any]:
    """A grid's JSON index (the wizard reads it to map a cell back to its epoch and weight)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
