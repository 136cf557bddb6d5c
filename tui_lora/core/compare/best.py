"""Keep the winner: the chosen epoch's file copied to ``output/<name>-best.safetensors``.

The tensors are copied unchanged; the metadata keeps every original key (``ss_*``, ``modelspec.*``)
and adds ``ss_tui_lora_best_epoch`` / ``ss_tui_lora_best_weight`` / ``ss_tui_lora_best_source``, so
the file itself says which epoch won and at what strength to use it. A sweep's winner also names its
variant (``ss_tui_lora_best_variant``) and the variant's settings (``ss_tui_lora_best_settings``, JSON
``{"training.unet_lr": 0.0005, …}``). The write is atomic.
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
BEST_VARIANT_KEY = "ss_tui_lora_best_variant"
BEST_SETTINGS_KEY = "ss_tui_lora_best_settings"


def best_file(project: Project) -> Path:
    return project.output_dir / f"{project.output_name}-best.safetensors"


def pick_best(project: Project, epoch: int | str, weight: float, *, variant: str | None = None) -> Path:
    """Copy epoch ``epoch`` (or ``"final"``) of the project, or of the sweep's ``variant``, to
    ``<name>-best.safetensors`` with the weight (and the variant) recorded."""
    import json

    from safetensors import safe_open

    from tui_lora.core.train.saving import save_lora

    weight = parse_weight(weight)
    chosen = None
    if variant is not None:
        from tui_lora.core.compare.variants import find_variant_epoch

        chosen, source = find_variant_epoch(project, variant, epoch)
    else:
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
    if chosen is not None:
        meta[BEST_VARIANT_KEY] = chosen.label
        meta[BEST_SETTINGS_KEY] = json.dumps(chosen.values, sort_keys=True)
    target = best_file(project)
    try:
        save_lora(target, tensors, meta)
    except OSError as exc:
        raise UserError(f"Cannot write {target} ({exc.strerror or exc})",
                        Fix("{} or fix the folder's permissions", FreeDisk(str(target.parent)))) from None
    return target
