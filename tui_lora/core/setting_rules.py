"""Rules for settings whose values reach the file system, and for which ``--set`` keys training reads.

project.toml may come with a project from someone else, so a value that becomes part of a path is
checked like any other input: ``output.output_name`` is a plain file name (``"../../x"`` would save
the LoRA outside output/), and ``dataset.caption_extension`` is a ``.txt``-like extension (``.png``
would make fetch write each caption over its image; ``/../x`` would write elsewhere).
"""

from __future__ import annotations

import re
from typing import Any

from tui_lora.core.errors import ChangeSetting, ConfigError, Fix, Given, Words

# Extensions a caption may never have: images (fetch would overwrite them) and other media.
_NOT_CAPTIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".avif", ".gif", ".tif", ".tiff", ".jxl",
                           ".heic", ".mp4", ".webm", ".safetensors", ".toml", ".json", ".part", ".tmp"})
_EXTENSION = re.compile(r"\.?[A-Za-z0-9]{1,10}")

# Keys that a run's overrides (`tui-lora train --set`) would accept and then ignore: training never reads them.
_NOT_READ_BY_TRAINING = {
    "project.preset": "it only records which preset the project started from",
    "project.subject": "it only changes the step planner's advice",
}


def file_name_problem(value: str) -> str | None:
    """Why ``value`` is not a plain file name, or None ("" is fine: it means the default)."""
    if value == "":
        return None
    if not value.strip():
        return "it is blank; leave it empty for the project name, or use a plain file name"
    if any(c in value for c in "/\\") or value.strip() in (".", ".."):
        return "it must be a plain file name, without folders or .."
    if not value.isprintable():
        return "it must be a plain file name without control characters"
    if value != value.strip():
        return "it must not start or end with a space"
    if len(value) > 150:
        return "it must be a file name of at most 150 characters"
    return None


def caption_extension_problem(value: str) -> str | None:
    """Why ``value`` cannot be a caption extension, or None ("" is fine: it means .txt)."""
    if value == "":
        return None
    if not _EXTENSION.fullmatch(value):
        return "it must be a dot and letters or digits, like .txt or .caption"
    ext = value.lower() if value.startswith(".") else "." + value.lower()
    if ext in _NOT_CAPTIONS:
        return f"{ext} is used for other files (images, models, settings), so captions would overwrite them; use .txt"
    return None


_RULES = {
    "output.output_name": file_name_problem,
    "dataset.caption_extension": caption_extension_problem,
}


def value_problem(dotted: str, value: Any) -> str | None:
    """Why ``value`` is not allowed for the key ``dotted`` beyond its type, or None."""
    rule = _RULES.get(dotted)
    return rule(value) if rule is not None and isinstance(value, str) else None


def check_training_overrides(overrides: list[str]) -> None:
    """Refuse a ``--set`` key that training would accept and ignore (so none is silently dropped)."""
    for text in overrides:
        dotted = text.partition("=")[0].strip()
        why = _NOT_READ_BY_TRAINING.get(dotted)
        if why is None and dotted.startswith("tags."):
            why = "it is a tagging setting (read when tagging and editing tags)"
        if why is not None:
            raise ConfigError(Words(f"{{}} does not change training because {why}", Given("override", dotted)),
                              Fix("{} in project.toml instead of overriding it for one run", ChangeSetting(dotted)))
