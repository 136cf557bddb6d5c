"""The epoch (or variant) x weight comparison: plan it (cheap checks), render every picture, write the
sheets and their index.

Rows are epochs (or a sweep's variants × epochs), columns are no LoRA + each weight, and every cell
holds one picture per prompt × seed. ``output/samples/compare-<time>.png`` is the first sheet: with
``sheet="separate"`` there is one sheet per prompt × seed (the others named ``…-p<N>-s<seed>.png``),
with ``sheet="combined"`` one sheet whose cells show their pictures side by side (prompts down, seeds
across). The JSON index next to it (same name, ``.json``, version 2) lists every picture with its
prompt, seed, epoch, variant, weight, file, sheet and box, next to version 1's keys (the first sheet's
cells), so the wizard crops any picture to zoom in and hands the pick to :func:`pick_best`.

Rendering: the base model is loaded once, each LoRA file once per row (a weight change only sets the
adapter's scale), and the prompts × seeds of a cell render in batched pipeline calls (:mod:`.batch`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.compare.files import EpochFile, select_epochs
from tui_lora.core.compare.records import Cell, ComparePlan, CompareResult, Item, Picture
from tui_lora.core.errors import UserError
from tui_lora.core.fsutil import atomic_write_text
from tui_lora.core.sample_prompts import SamplePrompt

__all__ = ["DEFAULT_SEEDS", "DEFAULT_WEIGHTS", "INDEX_VERSION", "SHEETS", "Cell", "ComparePlan", "CompareResult",
           "Item", "Picture", "default_grid_path", "default_seeds", "plan_compare", "read_index", "run_compare",
           "write_index"]

if TYPE_CHECKING:
    from tui_lora.core.compare.pipeline import ComparePipeline
    from tui_lora.core.project import Project

DEFAULT_WEIGHTS = (0.6, 0.8, 1.0)
DEFAULT_SEEDS = 2  # a lucky or unlucky seed hides real faults: two pictures per prompt by default
SHEETS = ("separate", "combined")
INDEX_VERSION = 2
Progress = Callable[[int, int, str], None]  # (pictures done, pictures in all, what is being rendered)


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


def default_seeds(seed: int, count: int = DEFAULT_SEEDS) -> list[int]:
    return [(seed + k) % 2**32 for k in range(count)]


def plan_compare(project: Project, prompt: SamplePrompt | list[SamplePrompt], *,
                 epochs: list[int | str] | None = None, weights: list[float] | None = None, out: Path | None = None,
                 seeds: list[int] | None = None, seeds_per_prompt: int = 1, sheet: str = "separate",
                 rows: list[EpochFile] | None = None, max_batch: int | None = None,
                 missing: list[str] | None = None) -> ComparePlan:
    """Check the request against the files on disk (no torch): unknown epochs are a UserError.
    Prompt fields left as None take the project's defaults (resolution, training.seed, sampler).
    ``seeds`` are every prompt's seeds; without them each prompt gets its own seed and the next
    ``seeds_per_prompt - 1``. ``rows`` replaces the epochs (a sweep's variant rows)."""
    s = project.settings
    given = prompt if isinstance(prompt, list) else [prompt]
    if not given:
        raise UserError("There is no prompt to compare with; give one, or add sample prompts to [sample] prompts "
                        "in project.toml.")
    if sheet not in SHEETS:
        raise UserError(f"The sheet layout {sheet!r} is not known; use separate or combined.")
    # Every prompt starts from training.seed (unless its line sets --d), so the seeds line up across prompts.
    resolved = [p.resolved(index=0, base_seed=s.training.seed, size=s.dataset.resolution, sampler=s.sample.sampler)
                for p in given]
    sizes = {(p.width, p.height) for p in resolved}
    if len(sizes) > 1:
        shown = " and ".join(f"{w}x{h}" for w, h in sorted(sizes)[:2])  # type: ignore[misc]
        raise UserError(f"The prompts ask for different picture sizes ({shown}); give them one size, so their "
                        "pictures line up in the grid.")
    per_prompt = [list(dict.fromkeys(seeds)) if seeds else default_seeds(int(p.seed or 0), seeds_per_prompt)
                  for p in resolved]
    resolved = [replace(p, seed=ss[0]) for p, ss in zip(resolved, per_prompt)]
    chosen = rows if rows is not None else select_epochs(project, epochs)
    grid = Path(out) if out else default_grid_path(project)
    if grid.suffix.lower() != ".png":
        grid = grid.with_suffix(".png")
    return ComparePlan(resolved[0], chosen, list(weights or DEFAULT_WEIGHTS), grid, grid.with_suffix(".json"),
                       prompts=resolved, seeds=per_prompt, sheet=sheet, max_batch=max_batch,
                       missing=list(missing or []))


def run_compare(project: Project, plan: ComparePlan, *, pipeline: ComparePipeline | None = None,
                device: str | None = None,
                base_model: str | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None, log: Callable[[str], None] = lambda m: None,
                warn: Callable[[str], None] = lambda m: None, keep_images: bool = False) -> CompareResult:
    """Render every picture of ``plan`` and write its sheets and index. ``pipeline`` (a loaded
    :class:`ComparePipeline`) is reused when given, so the wizard loads the base model once;
    ``keep_images`` keeps the rendered PIL images in the result (by picture)."""
    from tui_lora.core.compare.batch import plan_batches
    from tui_lora.core.compare.pipeline import ComparePipeline
    from tui_lora.core.compare.sheets import write_sheets

    t0 = time.monotonic()
    cancel = cancel or threading.Event()
    progress = progress or (lambda done, total, what: None)
    result = CompareResult(plan)
    if pipeline is None:
        log("loading the base model")
        pipeline = ComparePipeline.load(project, base_model=base_model, device=device, log=log, warn=warn)
    items = plan.items
    chunk_of = [pipeline.chunks(p) for p in plan.prompts]
    chunks = [chunk_of[it.prompt_index] for it in items]
    batches = plan_batches([it.prompt for it in items], chunks, plan.max_batch)
    total = plan.total_cells
    done = 0

    def render_cell(what: str, lora: Path | None, weight: float) -> list:
        nonlocal done
        pipeline.use_lora(lora, weight)
        out: list = [None] * len(items)
        for batch in batches:
            if cancel.is_set():
                raise _Cancelled
            progress(done, total, what + (f" ({len(batch)} pictures)" if len(batch) > 1 else ""))
            images = pipeline.render_batch([items[k].prompt for k in batch], chunks=chunks[batch[0]], cancel=cancel)
            if images is None:
                raise _Cancelled
            for k, image in zip(batch, images):
                out[k] = image
            done += len(batch)
        return out

    rendered: dict[tuple[int, int], list] = {}
    try:
        baseline = render_cell("no LoRA", None, 0.0)
        for r, row in enumerate(plan.rows):
            rendered[(r, 0)] = baseline
            for c, w in enumerate(plan.weights, start=1):
                rendered[(r, c)] = render_cell(f"{row.label} at weight {w:g}", row.path, w)
    except _Cancelled:
        result.cancelled = True
        result.seconds = time.monotonic() - t0
        return result
    finally:
        pipeline.use_lora(None)  # a reused pipeline starts clean
    progress(total, total, "writing the grid")
    sizes = write_sheets(plan, rendered, result, base_name=pipeline.base.name)
    write_index(plan, result, base_name=pipeline.base.name, sizes=sizes)
    if keep_images:
        index = {(it.prompt_index, it.seed_index): k for k, it in enumerate(items)}
        result.images = [rendered[(p.row, p.col)][index[(p.prompt_index, p.seed_index)]] for p in result.pictures]
    result.seconds = time.monotonic() - t0
    return result


def write_index(plan: ComparePlan, result: CompareResult, *, base_name: str, sizes: list[tuple[int, int]]) -> None:
    """The JSON index: version 1's keys (the first sheet, the first prompt) plus every sheet and picture."""
    from tui_lora.core.train.pipeline import sampler_label

    sp = plan.prompt
    variants = {}
    for row in plan.rows:
        if row.variant is not None:
            variants[row.variant] = {"label": row.variant, "describe": row.describe}
    index = {
        "version": INDEX_VERSION, "grid": plan.grid_path.name, "size": list(sizes[0]), "base_model": base_name,
        **sp.to_dict(), "sampler_label": sampler_label(sp.sampler),
        "rows": [r.to_dict() for r in plan.rows],
        "columns": [{"weight": None, "label": "no LoRA"}] + [{"weight": w, "label": f"weight {w:g}"}
                                                              for w in plan.weights],
        "cells": [c.to_dict() for c in result.cells],
        "sheet": plan.sheet,
        "sheets": [{"file": p.name, "size": list(size), **_sheet_item(plan, n)}
                   for n, (p, size) in enumerate(zip(plan.sheet_paths(), sizes))],
        "prompts": [p.to_dict() for p in plan.prompts], "seeds": plan.seeds,
        "variants": list(variants.values()), "missing_variants": plan.missing,
        "pictures": [p.to_dict() for p in result.pictures],
    }
    atomic_write_text(plan.index_path, json.dumps(index, indent=2, ensure_ascii=False) + "\n")


def _sheet_item(plan: ComparePlan, n: int) -> dict[str, Any]:
    if plan.combined:
        return {"prompt_index": None, "seed_index": None}
    it = plan.items[n]
    return {"prompt_index": it.prompt_index, "seed_index": it.seed_index, "seed": it.prompt.seed}


def read_index(path: Path) -> dict[str, Any]:
    """A grid's JSON index (the wizard reads it to map a cell back to its epoch and weight)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
