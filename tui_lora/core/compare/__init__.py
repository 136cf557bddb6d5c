"""Compare saved epochs at several LoRA weights, and keep the winner (issue #9).

Public API (torch is imported only when rendering):
- :func:`list_epoch_files` / :func:`select_epochs` — the saved files by epoch (``EpochFile``).
- :func:`plan_compare` (cheap checks, no torch) then :func:`run_compare` (renders, writes the sheets and
  their JSON index; ``progress(done, total, what)`` callback and a ``cancel`` threading.Event). Several
  prompts and seeds per cell, rendered in batched pipeline calls (:mod:`.batch`, :mod:`.sheets`).
- :func:`select_variant_rows` — a sweep's variants × epochs as rows (:mod:`.variants`).
- :class:`ComparePipeline` — the base model loaded once; pass it to :func:`run_compare` to reuse it.
- :func:`pick_best` — copy the chosen epoch (of the project or of a sweep variant) to
  ``output/<name>-best.safetensors`` with the epoch, weight (and variant) in its metadata.
"""

from tui_lora.core.compare.best import (
    BEST_EPOCH_KEY,
    BEST_SETTINGS_KEY,
    BEST_VARIANT_KEY,
    BEST_WEIGHT_KEY,
    best_file,
    pick_best,
)
from tui_lora.core.compare.files import (
    EpochFile,
    list_epoch_files,
    parse_epochs,
    parse_seeds,
    parse_weight,
    parse_weights,
    select_epochs,
)
from tui_lora.core.compare.pipeline import ComparePipeline
from tui_lora.core.compare.run import (
    DEFAULT_SEEDS,
    DEFAULT_WEIGHTS,
    SHEETS,
    Cell,
    ComparePlan,
    CompareResult,
    Picture,
    plan_compare,
    read_index,
    run_compare,
)
from tui_lora.core.compare.variants import parse_pick, select_variant_rows

__all__ = [
    "BEST_EPOCH_KEY", "BEST_SETTINGS_KEY", "BEST_VARIANT_KEY", "BEST_WEIGHT_KEY", "Cell", "ComparePipeline",
    "ComparePlan", "CompareResult", "DEFAULT_SEEDS", "DEFAULT_WEIGHTS", "EpochFile", "Picture", "SHEETS", "best_file",
    "list_epoch_files", "parse_epochs", "parse_pick", "parse_seeds", "parse_weight", "parse_weights", "pick_best",
    "plan_compare", "read_index", "run_compare", "select_epochs", "select_variant_rows",
]
