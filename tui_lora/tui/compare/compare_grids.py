"""Comparison grids on disk, as the wizard shows them: the JSON index that `tui-lora compare` writes
next to each grid PNG read into rows, columns, cells and pictures (several prompts × seeds per cell
since index version 2), the earlier grids of a project, and a cell's pictures cropped out of the PNGs
by their boxes: one prompt × seed, or all of them side by side (to draw a cell, or to zoom in).
No textual, no torch.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from tui_lora.core.compare.run import Cell as GridCell  # the index's cells, as `compare` writes them
from tui_lora.core.compare.run import Picture as GridPicture
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
    prompts: tuple[str, ...] = ()  # every prompt, in order (one before version 2)
    seeds: tuple[tuple[int, ...], ...] = ()  # each prompt's seeds
    pictures: tuple[GridPicture, ...] = ()  # every picture: its cell, prompt, seed, sheet and box
    variants: bool = False  # the rows are a sweep's variants

    @property
    def items(self) -> list[tuple[int, int]]:
        """Each (prompt index, seed index) a cell holds, in order."""
        return [(p, s) for p in range(len(self.prompts)) for s in range(len(self.seeds[p]))]

    @property
    def per_cell(self) -> int:
        return len(self.items)

    def item_text(self, item: tuple[int, int] | None) -> str:
        """"prompt 1/2 · seed 42 · ohwx, smile", or what the combined view shows."""
        if item is None:
            seeds = ", ".join(str(x) for x in self.seeds[0]) if self.seeds else ""
            return (f"all {self.per_cell} pictures: {len(self.prompts)} prompt{'s' if len(self.prompts) != 1 else ''} "
                    f"down, seeds {seeds} across")
        p, k = item
        return f"prompt {p + 1}/{len(self.prompts)} · seed {self.seeds[p][k]} · {self.prompts[p]}"

    def cell_pictures(self, row: int, col: int) -> list[GridPicture]:
        return [p for p in self.pictures if p.row == row and p.col == col]

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
        what = "variant row" if self.variants else "epoch"
        head = (f"{self.when} · {self.rows} {what}{'s' if self.rows != 1 else ''} × {n_w} weight"
                f"{'s' if n_w != 1 else ''}")
        if self.per_cell > 1:
            n_p, n_s = len(self.prompts), max(len(s) for s in self.seeds)
            return f"{head} · {n_p} prompt{'s' if n_p != 1 else ''} × {n_s} seeds · {self.prompt}"
        return f"{head} · seed {self.seed} · {self.prompt}"


def read_grid(index: Path) -> GridInfo:
    """A grid's index; a missing or damaged one is a one-sentence UserError."""
    from tui_lora.core.compare import read_index

    try:
        data = read_index(index)
        png = index.with_name(str(data["grid"]))
        cells = tuple(GridCell.from_dict(c) for c in data["cells"])
        if data.get("pictures"):
            pictures = tuple(GridPicture.from_dict(p) for p in data["pictures"])
            prompts = tuple(str(p.get("prompt", "")) for p in data["prompts"])
            seeds = tuple(tuple(int(x) for x in s) for s in data["seeds"])
        else:  # version 1: one picture per cell, the cell itself
            prompts, seeds = (str(data.get("prompt", "")),), ((int(data.get("seed") or 0),),)
            pictures = tuple(GridPicture(png.name, c.row, c.col, 0, 0, prompts[0], c.seed, c.epoch, None, c.weight,
                                         c.file, c.box) for c in cells)
        return GridInfo(
            png=png, index=index, prompt=str(data.get("prompt", "")), negative=str(data.get("negative") or ""),
            seed=int(data.get("seed") or 0), steps=int(data.get("steps") or 0),
            size=(int(data.get("width") or 0), int(data.get("height") or 0)),
            sampler=str(data.get("sampler_label") or data.get("sampler") or ""),
            base_model=str(data.get("base_model", "")),
            row_labels=tuple(str(r["label"]) for r in data["rows"]),
            col_labels=tuple(str(c["label"]) for c in data["columns"]),
            weights=tuple(None if c.get("weight") is None else float(c["weight"]) for c in data["columns"]),
            cells=cells, prompts=prompts, seeds=seeds, pictures=pictures,
            variants=any(r.get("variant") for r in data["rows"]))
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


def _scaled(image, fit: tuple[int, int]):
    """``image`` scaled to fit ``fit`` keeping its aspect; crisp pixels when enlarged a lot."""
    from PIL import Image

    w, h = image.size
    scale = min(fit[0] / max(1, w), fit[1] / max(1, h))
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return image.resize(size, Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS)


def crop_cells(png: Path, boxes: list[tuple[int, int, int, int]], fit: tuple[int, int]) -> list:
    """The cells at ``boxes`` of the grid (decoded once), each scaled to fit ``fit`` pixels (upscaled
    too: a 64 px sample zoomed to a terminal's width), keeping its aspect. PIL images, in order."""
    from PIL import Image

    with Image.open(png) as im:
        grid = im.convert("RGB")
    return [_scaled(grid.crop(box), fit) for box in boxes]


def crop_cell(png: Path, box: tuple[int, int, int, int], fit: tuple[int, int]):
    """One cell of the grid (see :func:`crop_cells`)."""
    return crop_cells(png, [box], fit)[0]


def cell_images(info: GridInfo, cells: list[tuple[int, int]], item: tuple[int, int] | None,
                fit: tuple[int, int]) -> list:
    """For each (row, col) of ``cells``: its picture for ``item`` (prompt index, seed index), or with
    None all its pictures side by side (prompts down, seeds across), scaled to fit ``fit``. Each sheet
    PNG is decoded once. PIL images, in order."""
    from PIL import Image

    sheets: dict[str, Image.Image] = {}

    def crop(p: GridPicture):
        if p.sheet not in sheets:
            with Image.open(info.png.with_name(p.sheet)) as im:
                sheets[p.sheet] = im.convert("RGB")
        return sheets[p.sheet].crop(p.box)

    out = []
    for row, col in cells:
        pictures = info.cell_pictures(row, col)
        if item is not None:
            chosen = next((p for p in pictures if (p.prompt_index, p.seed_index) == item), pictures[0])
            out.append(_scaled(crop(chosen), fit))
            continue
        w, h = info.size
        gap = max(2, w // 32)
        cols = max((len(s) for s in info.seeds), default=1)
        block = Image.new("RGB", (cols * w + (cols - 1) * gap, len(info.prompts) * h + (len(info.prompts) - 1) * gap),
                          (255, 255, 255))
        for p in pictures:
            block.paste(crop(p), (p.seed_index * (w + gap), p.prompt_index * (h + gap)))
        out.append(_scaled(block, fit))
    return out


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
