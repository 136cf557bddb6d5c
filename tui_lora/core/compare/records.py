"""What a comparison is and what it made, as data (no torch, no drawing): the plan (rows, weights,
prompts × seeds, sheets), a cell of the grid, a picture with its sheet and box, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui_lora.core.compare.files import EpochFile
from tui_lora.core.sample_prompts import SamplePrompt


@dataclass(frozen=True)
class Item:
    """One prompt × seed of every cell."""

    prompt_index: int
    seed_index: int
    prompt: SamplePrompt  # resolved, with this item's seed


@dataclass
class ComparePlan:
    prompt: SamplePrompt  # the first prompt, resolved with its first seed (what version 1 had alone)
    rows: list[EpochFile]
    weights: list[float]
    grid_path: Path  # the first sheet
    index_path: Path
    prompts: list[SamplePrompt] = field(default_factory=list)  # resolved, each with its first seed
    seeds: list[list[int]] = field(default_factory=list)  # each prompt's seeds
    sheet: str = "separate"
    max_batch: int | None = None  # pictures per pipeline call (None: by picture size; 1: one call each)
    missing: list[str] = field(default_factory=list)  # sweep variants left out (no such file yet)

    def __post_init__(self) -> None:
        if not self.prompts:
            self.prompts = [self.prompt]
        if not self.seeds:
            self.seeds = [[int(p.seed or 0)] for p in self.prompts]

    @property
    def items(self) -> list[Item]:
        return [Item(i, j, replace(sp, seed=seed)) for i, sp in enumerate(self.prompts)
                for j, seed in enumerate(self.seeds[i])]

    @property
    def per_cell(self) -> int:
        return sum(len(s) for s in self.seeds)

    @property
    def total_cells(self) -> int:
        """Pictures rendered: the no-LoRA ones once, then every row × weight, each prompt × seed."""
        return (1 + len(self.rows) * len(self.weights)) * self.per_cell

    @property
    def combined(self) -> bool:
        return self.sheet == "combined" or self.per_cell == 1

    def sheet_paths(self) -> list[Path]:
        """The PNGs: one when combined (or one picture per cell), else one per prompt × seed."""
        if self.combined:
            return [self.grid_path]
        stem = self.grid_path.stem
        return [self.grid_path if n == 0 else self.grid_path.with_name(
            f"{stem}-p{it.prompt_index + 1}-s{it.prompt.seed}.png") for n, it in enumerate(self.items)]

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt.to_dict(), "prompts": [p.to_dict() for p in self.prompts], "seeds": self.seeds,
                "sheet": self.sheet, "rows": [r.to_dict() for r in self.rows], "weights": self.weights,
                "grid": str(self.grid_path), "index": str(self.index_path),
                "sheets": [str(p) for p in self.sheet_paths()], "pictures": self.total_cells,
                "missing_variants": self.missing}


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    epoch: int | None  # None: the no-LoRA column
    weight: float
    file: Path | None
    seed: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the cell in the first sheet (its pictures, combined)
    variant: str | None = None

    @property
    def lora(self) -> bool:
        return self.file is not None

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "col": self.col, "epoch": self.epoch, "weight": self.weight,
                "file": str(self.file) if self.file else None, "lora": self.lora, "seed": self.seed,
                "box": list(self.box), "variant": self.variant}

    @classmethod
    def from_dict(cls, c: dict[str, Any]) -> Cell:
        """A cell as the JSON index holds it (what :meth:`to_dict` wrote)."""
        x0, y0, x1, y1 = (int(v) for v in c["box"])
        return cls(int(c["row"]), int(c["col"]), None if c.get("epoch") is None else int(c["epoch"]),
                   float(c.get("weight") or 0.0), Path(c["file"]) if c.get("file") else None,
                   int(c.get("seed") or 0), (x0, y0, x1, y1), c.get("variant") or None)


@dataclass(frozen=True)
class Picture:
    """One rendered picture: where it is (sheet and box) and what it shows."""

    sheet: str  # the PNG's file name (next to the index)
    row: int
    col: int
    prompt_index: int
    seed_index: int
    prompt: str
    seed: int
    epoch: int | None
    variant: str | None
    weight: float
    file: Path | None
    box: tuple[int, int, int, int]

    @property
    def lora(self) -> bool:
        return self.file is not None

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "col": self.col, "prompt_index": self.prompt_index,
                "seed_index": self.seed_index, "prompt": self.prompt, "seed": self.seed, "epoch": self.epoch,
                "variant": self.variant, "weight": self.weight, "file": str(self.file) if self.file else None,
                "lora": self.lora, "box": list(self.box)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Picture:
        x0, y0, x1, y1 = (int(v) for v in d["box"])
        return cls(str(d["sheet"]), int(d["row"]), int(d["col"]), int(d.get("prompt_index") or 0),
                   int(d.get("seed_index") or 0), str(d.get("prompt") or ""), int(d.get("seed") or 0),
                   None if d.get("epoch") is None else int(d["epoch"]), d.get("variant") or None,
                   float(d.get("weight") or 0.0), Path(d["file"]) if d.get("file") else None, (x0, y0, x1, y1))


@dataclass
class CompareResult:
    plan: ComparePlan
    cells: list[Cell] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # of the first sheet
    seconds: float = 0.0
    cancelled: bool = False
    images: list[Any] = field(default_factory=list)  # PIL images by picture, with keep_images

    @property
    def grid_path(self) -> Path | None:
        return None if self.cancelled else self.plan.grid_path

    @property
    def index_path(self) -> Path | None:
        return None if self.cancelled else self.plan.index_path

    def to_dict(self) -> dict[str, Any]:
        return {"grid": str(self.grid_path) if self.grid_path else None,
                "index": str(self.index_path) if self.index_path else None, "size": list(self.size),
                "sheets": [] if self.cancelled else [str(p) for p in self.plan.sheet_paths()],
                "cells": [c.to_dict() for c in self.cells], "pictures": [p.to_dict() for p in self.pictures],
                "seconds": round(self.seconds, 1), "cancelled": self.cancelled}
