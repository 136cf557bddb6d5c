"""Keep the winner: the chosen epoch's file copied to ``output/<name>-best.safetensors``.

The tensors are copied unchanged; the metadata keeps every original key (``ss_*``, ``modelspec.*``)
and adds ``ss_tui_lora_best_epoch`` / ``ss_tui_lora_best_weight`` / ``ss_tui_lora_best_source``, so
the file itself says which epoch won and at what strength to use it. The write is atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.compare.files import find_epoch, parse_weight
from tui_lora.core.errors import FreeDisk, Fix, UserError

if TYPE_CHECKING:
    from tui_lora.core.project import Project

BEST_EPOCH_KEY = "ss_tui_lora_best_epoch"
BEST_WEIGHT_KEY = "ss_tui_lora_best_weight"
BEST_SOURCE_KEY = "ss_tui_lora_best_source"


def best_file(project: Project) -> Path:
    return project.output_dir / f"{project.output_name}-best.safetensors"


def pick_best(project: Project, epoch: int | str, weight: float) -> Path:
    """Copy epoch ``epoch`` (or ``"final"``) to ``<name>-best.safetensors`` with the weight recorded."""
    from safetensors import safe_open

    from tui_lora.core.train.saving import save_lora

    weight = parse_weight(weight)
    source = find_epoch(project, epoch)
    try:
        with safe_open(str(source.path), "pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types for a damaged file
        raise UserError(f"{source.path.name} cannot be read ({type(exc).__name__})",
                        Fix("pick another epoch")) from None
    meta = {k: v for k, v in meta.items() if not k.startswith("sshs_")}  # recomputed for the new metadata
    meta[BEST_EPOCH_KEY] = str(source.epoch)
    meta[BEST_WEIGHT_KEY] = f"{weight:g}"
    meta[BEST_SOURCE_KEY] = source.path.name
    target = best_file(project)
    try:
        save_lora(target, tensors, meta)
    except OSError as exc:
        raise UserError(f"Cannot write {target} ({exc.strerror or exc})",
                        Fix("{} or fix the folder's permissions", FreeDisk(str(target.parent)))) from None
    return target
