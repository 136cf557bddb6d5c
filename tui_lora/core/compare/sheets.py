"""The comparison's PNG sheets, drawn from the rendered pictures, and where each picture landed.

A separate sheet is the version 1 grid for one prompt × seed. A combined sheet's cell is a block of
pictures, one row per prompt and one column per seed, a small gap between them; its title names the
prompts in order (the rows of each block) and the seeds (the columns). Boxes are exact pixel boxes
of the PNG, so a picture cropped by its box is the rendered picture itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui_lora.core.compare.grid import BACKGROUND, GridLayout, draw_grid, layout_grid

if TYPE_CHECKING:
    from PIL import Image

    from tui_lora.core.compare.records import ComparePlan, CompareResult, Item


def block_gap(width: int) -> int:
    return max(2, width // 32)


def block_offsets(plan: ComparePlan) -> dict[tuple[int, int], tuple[int, int]]:
    """(prompt index, seed index) → the picture's offset inside a combined cell."""
    w, h = plan.prompt.width or 0, plan.prompt.height or 0
    g = block_gap(w)
    return {(it.prompt_index, it.seed_index): (it.seed_index * (w + g), it.prompt_index * (h + g))
            for it in plan.items}


def block_size(plan: ComparePlan) -> tuple[int, int]:
    w, h = plan.prompt.width or 0, plan.prompt.height or 0
    g = block_gap(w)
    cols = max(len(s) for s in plan.seeds)
    rows = len(plan.prompts)
    return cols * w + (cols - 1) * g, rows * h + (rows - 1) * g


def compose_block(plan: ComparePlan, pictures: list, items: list[Item]) -> Image.Image:
    from PIL import Image

    block = Image.new("RGB", block_size(plan), BACKGROUND)
    offsets = block_offsets(plan)
    for it, picture in zip(items, pictures):
        block.paste(picture.convert("RGB"), offsets[(it.prompt_index, it.seed_index)])
    return block


def _details(sp, base_name: str) -> str:
    from tui_lora.core.train.pipeline import sampler_label

    return (f"{sampler_label(sp.sampler)} · {sp.steps} steps · CFG {sp.cfg:g} · {sp.width}x{sp.height} · "
            f"{base_name}")


def _title_one(sp, base_name: str) -> list[str]:
    return [sp.prompt + (f"  |  negative: {sp.negative}" if sp.negative else ""),
            f"seed {sp.seed} · {_details(sp, base_name)}"]


def _title_combined(plan: ComparePlan, base_name: str) -> list[str]:
    prompts = "  ".join(f"{n}) {p.prompt}" for n, p in enumerate(plan.prompts, start=1))
    seeds = ", ".join(str(s) for s in plan.seeds[0]) if all(s == plan.seeds[0] for s in plan.seeds) else \
        "; ".join(",".join(str(x) for x in s) for s in plan.seeds)
    what = "prompt" if len(plan.prompts) == 1 else "prompts (rows in each cell)"
    return [f"{what}: {prompts}", f"seeds (columns in each cell): {seeds} · {_details(plan.prompt, base_name)}"]


def write_png(path, image) -> None:
    from tui_lora.core.fsutil import atomic_write_bytes
    from tui_lora.core.train.pipeline import png_bytes

    atomic_write_bytes(path, png_bytes(image))


def write_sheets(plan: ComparePlan, rendered: dict[tuple[int, int], list], result: CompareResult, *,
                 base_name: str) -> list[tuple[int, int]]:
    """Draw and write every sheet; fills ``result`` (cells, pictures, size) and returns each sheet's size."""
    from tui_lora.core.compare.records import Cell, Picture

    items = plan.items
    row_labels = [r.label for r in plan.rows]
    col_labels = ["no LoRA"] + [f"weight {w:g}" for w in plan.weights]
    n_rows, n_cols = len(plan.rows), len(col_labels)
    paths = plan.sheet_paths()
    sizes: list[tuple[int, int]] = []
    pictures: list[Picture] = []
    cells: list[Cell] = []

    def meta(r: int, c: int) -> tuple[int | None, str | None, float, Any]:
        row = plan.rows[r]
        return (None, None, 0.0, None) if c == 0 else (row.epoch, row.variant, plan.weights[c - 1], row.path)

    if plan.combined:
        bw, bh = block_size(plan)
        # Blocks stand apart from each other more than their pictures do.
        layout = layout_grid(n_rows, n_cols, bw, bh, row_labels, min_gap=4 * block_gap(plan.prompt.width or 0))
        offsets = block_offsets(plan)
        blocks = {key: compose_block(plan, pics, items) for key, pics in rendered.items()}
        single = plan.per_cell == 1
        title = _title_one(plan.prompt, base_name) if single else _title_combined(plan, base_name)
        sheet = draw_grid(blocks, layout, row_labels=row_labels, col_labels=col_labels, title=title)
        write_png(paths[0], sheet)
        sizes.append(sheet.size)
        for r in range(n_rows):
            for c in range(n_cols):
                epoch, variant, weight, file = meta(r, c)
                x0, y0, x1, y1 = layout.box(r, c)
                cells.append(Cell(r, c, epoch, weight, file, plan.prompt.seed or 0, (x0, y0, x1, y1), variant))
                for it in items:
                    dx, dy = offsets[(it.prompt_index, it.seed_index)]
                    box = (x0 + dx, y0 + dy, x0 + dx + (it.prompt.width or 0), y0 + dy + (it.prompt.height or 0))
                    pictures.append(Picture(paths[0].name, r, c, it.prompt_index, it.seed_index, it.prompt.prompt,
                                            it.prompt.seed or 0, epoch, variant, weight, file, box))
    else:
        w, h = plan.prompt.width or 0, plan.prompt.height or 0
        layout: GridLayout = layout_grid(n_rows, n_cols, w, h, row_labels)
        for n, (it, path) in enumerate(zip(items, paths)):
            images = {key: pics[n] for key, pics in rendered.items()}
            sheet = draw_grid(images, layout, row_labels=row_labels, col_labels=col_labels,
                              title=_title_one(it.prompt, base_name))
            write_png(path, sheet)
            sizes.append(sheet.size)
            for r in range(n_rows):
                for c in range(n_cols):
                    epoch, variant, weight, file = meta(r, c)
                    box = layout.box(r, c)
                    if n == 0:
                        cells.append(Cell(r, c, epoch, weight, file, it.prompt.seed or 0, box, variant))
                    pictures.append(Picture(path.name, r, c, it.prompt_index, it.seed_index, it.prompt.prompt,
                                            it.prompt.seed or 0, epoch, variant, weight, file, box))
    result.cells, result.pictures, result.size = cells, pictures, sizes[0]
    return sizes
