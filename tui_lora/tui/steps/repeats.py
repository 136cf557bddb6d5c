"""Changing a concept's repeats, which live in its folder name (kohya's ``dataset/<N>_<name>/``).

Kept free of textual so the CLI can share it; it belongs next to core/dataset/folders.py.
"""

from __future__ import annotations

import os

from tui_lora.core.dataset.folders import MAX_REPEATS, Concept, concept_folder_name
from tui_lora.core.errors import UserError
from tui_lora.core.jobs import is_running


def parse_repeats(text: str) -> int:
    """User-typed repeats → int, or a UserError sentence."""
    raw = text.strip()
    if not raw.isdigit():
        raise UserError(f"Repeats {raw!r} is not a whole number; type how often each image is seen per epoch, e.g. 10.")
    n = int(raw)
    if not 1 <= n <= MAX_REPEATS:
        raise UserError(f"Repeats {n} is out of range; use 1 to {MAX_REPEATS} (10 is typical for 20-50 images).")
    return n


def set_repeats(project, concept: Concept, repeats: int) -> Concept:
    """Rename ``<old N>_<name>`` to ``<repeats>_<name>``; one atomic rename, refused while a run trains."""
    if repeats == concept.repeats:
        return concept
    target = concept.path.with_name(concept_folder_name(repeats, concept.name))
    if is_running(project):
        raise UserError(f"A training run is reading {concept.folder} now; change repeats after it ends.")
    if target.exists():
        raise UserError(f"dataset/{target.name} already exists; merge it with dataset/{concept.folder} "
                        "or rename it first.")
    try:
        # rename(2) is atomic: the folder has the old name or the new one, never half of each.
        os.rename(concept.path, target)
    except OSError as exc:
        raise UserError(f"Cannot rename dataset/{concept.folder} to {target.name} ({exc.strerror}); "
                        "check the folder's permissions.") from None
    return Concept(target, repeats, concept.name)
