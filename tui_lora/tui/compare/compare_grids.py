"""Comparison grids on disk, as the wizard shows them: the JSON index that `tui-lora compare` writes
next to each grid PNG read into rows, columns and cells, the earlier grids of a project, and one cell
cropped out of the PNG by its box (to draw it, or to zoom in). No textual, no torch.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from tui_lora.core.compare.run import Cell as GridCell  # the index's cells, as `compare` writes them
from tui_lora.core.errors import UserError

_STAMP = re.compile(r"compare-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})")


@dataclass(frozen=True)
class GridInfo:
    png: Path
    index: Path
    prompt: str
    negative: str
    seed: int
    steps: int
    size: tuple[int, int]  # one cell's width x height in pixels
    sampler: str
    base_model: str
    row_labels: tuple[str, ...]  # "epoch 2", "epoch 4 (final)"
    col_labels: tuple[str, ...]  # "no LoRA", "weight 0.6", …
    weights: tuple[float | None, ...]  # per column; None for no LoRA
    cells: tuple[GridCell, ...]

    @property
    def rows(self) -> int:
        return len(self.row_labels)

    @property
    def cols(self) -> int:
        return len(self.col_labels)

    def cell(self, row: int, col: int) -> GridCell | None:
        return next((c for c in self.cells if c.row == row and c.col == col), None)

    @property
    def when(self) -> str:
        """When it was rendered: from its name (compare-YYYYMMDD-HHMMSS) or else the file's time."""
        m = _STAMP.match(self.png.stem)
        if m:
            y, mo, d, h, mi, _s = m.groups()
            return f"{y}-{mo}-{d} {h}:{mi}"
        try:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.index.stat().st_mtime))
        except OSError:
            return "?"

    def summary(self) -> str:
        n_w = self.cols - 1
        return (f"{self.when} · {self.rows} epoch{'s' if self.rows != 1 else ''} × {n_w} weight"
                f"{'s' if n_w != 1 else ''} · seed {self.seed} · {self.prompt}")


def read_grid(index: Path) -> GridInfo:
    """A grid's index; a missing or damaged one is a one-sentence UserError."""
    from tui_lora.core.compare import read_index

    try:
        data = read_index(index)
        png = index.with_name(str(data["grid"]))
        cells = tuple(GridCell.from_dict(c) for c in data["cells"])
        return GridInfo(
            png=png, index=index, prompt=str(data.get("prompt", "")), negative=str(data.get("negative") or ""),
            seed=int(data.get("seed") or 0), steps=int(data.get("steps") or 0),
            size=(int(data.get("width") or 0), int(data.get("height") or 0)),
            sampler=str(data.get("sampler_label") or data.get("sampler") or ""),
            base_model=str(data.get("base_model", "")),
            row_labels=tuple(str(r["label"]) for r in data["rows"]),
            col_labels=tuple(str(c["label"]) for c in data["columns"]),
            weights=tuple(None if c.get("weight") is None else float(c["weight"]) for c in data["columns"]),
            cells=cells)
    except OSError as exc:
        raise UserError(f"Cannot read {index.name} ({exc.strerror or exc}); render the grid again.") from None
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{index.name} is not a comparison index tui-lora wrote; render the grid again.") from None


def list_grids(project) -> list[GridInfo]:
    """The project's earlier grids (output/samples/compare-*.json whose PNG exists), newest first.
    An index that cannot be read is skipped: the list is for reopening, not for reporting."""
    folder = Path(project.samples_dir)
    if not folder.is_dir():
        return []
    out = []
    for index in sorted(folder.glob("compare-*.json"), key=lambda p: p.name, reverse=True):
        try:
            info = read_grid(index)
        except UserError:
            continue
        if info.png.is_file():
            out.append(info)
    return out


def crop_cells(png: Path, boxes: list[tuple[int, int, int, int]], fit: tuple[int, int]) -> list:
    """The cells at ``boxes`` of the grid (decoded once), each scaled to fit ``fit`` pixels (upscaled
    too: a 64 px sample zoomed to a terminal's width), keeping its aspect. PIL images, in order."""
    from PIL import Image

    with Image.open(png) as im:
        grid = im.convert("RGB")
    out = []
    for box in boxes:
        cell = grid.crop(box)
        w, h = cell.size
        scale = min(fit[0] / max(1, w), fit[1] / max(1, h))
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS  # crisp pixels when big
        out.append(cell.resize(size, resample))
    return out


def crop_cell(png: Path, box: tuple[int, int, int, int], fit: tuple[int, int]):
    """One cell of the grid (see :func:`crop_cells`)."""
    return crop_cells(png, [box], fit)[0]


def best_says(path: Path) -> str:
    """" (epoch 2 at weight 0.8)" from a -best file's metadata, or nothing when it does not say."""
    from tui_lora.core.compare import BEST_EPOCH_KEY, BEST_WEIGHT_KEY
    from tui_lora.core.models import read_safetensors_header

    try:
        _keys, meta = read_safetensors_header(path)
    except UserError:
        return ""
    if BEST_EPOCH_KEY in meta and BEST_WEIGHT_KEY in meta:
        return f" (epoch {meta[BEST_EPOCH_KEY]} at weight {meta[BEST_WEIGHT_KEY]})"
    return ""
