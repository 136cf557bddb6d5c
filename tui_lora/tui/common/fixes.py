"""The wizard's words for the steps a fix names (core.errors): the one place where an action becomes
a key of a step ("r (Resume)", "r (Resume on 6 Train)" when read on another step) and an input a
field ("the Base URL"). The CLI says the same steps as commands and flags (commands/_fixes.py).
No textual here."""

from __future__ import annotations

from collections.abc import Callable

from tui_lora.core.errors import ChangeInput, Given, Notice, RunAction, Step, UserError
from tui_lora.tui.navigation import STEP_INDEX, STEPS

# action → (key, what the footer calls it, the step whose screen has the key); a step alone
# (no key) means "go to that step"; no step means the start screen (o Other project).
KEYS: dict[str, tuple[str, str, str | None]] = {
    "train.start": ("s", "Start", "train"),
    "train.resume": ("r", "Resume", "train"),
    "train.restart": ("s", "Start over", "train"),
    "sweep.start": ("w", "Sweep", "train"),
    "sweep.resume": ("r", "Resume", "train"),
    "sweep.restart": ("w", "Sweep", "train"),
    "job.status": ("", "", "train"),
    "job.stop": ("x", "Stop", "train"),
    "tags.undo": ("u", "Undo", "tags"),
    "tags.undo_force": ("u", "Undo, then Undo anyway", "tags"),
    "fetch": ("", "", "fetch"),
    "tag": ("r", "Tag", "tags"),
    "project.new": ("n", "New project", None),
    "project.open": ("o", "Open folder", None),
}

# input → its field, as a sentence names it.
FIELDS: dict[str, str] = {
    "base_model": "the Base model",
    "booru.source": "the source",
    "booru.tags": "the tags",
    "booru.order": "the Order",
    "booru.base_url": "the Base URL",
    "booru.credentials": "the account fields",
    "booru.user_id": "the User id",
    "booru.api_key": "the API key",
    "booru.remember": "Remember",
    "fetch.limit": "the Limit",
    "tagger.model": "Model in the panel",
    "tagger.batch": "the batch size",
    "device": "the device",
    "gpus": "the GPU count",
    "dedupe.backend": "the duplicate finder",
    "compare.epochs": "Epochs",
    "compare.weights": "Weights",
    "compare.weight": "the weight",
    "compare.seeds": "Seeds",
    "sweep.vary": "the setting and its values",
    "tags.replace": "the merge",
    "tags.pattern": "the pattern",
    "override": "the setting",
}
# Inputs a sentence asks to fill in rather than to set.
_FILL_IN = {"booru.credentials"}


def _place(step_id: str) -> str:
    return f"{STEPS.index(STEP_INDEX[step_id]) + 1} {STEP_INDEX[step_id].label}"


def namer(here: str | None) -> Callable[[Step], str]:
    """Names steps as read on the step ``here`` (a screen's STEP_ID; None: the start screen)."""

    def name(step: Step) -> str:
        if isinstance(step, RunAction):
            key, label, where = KEYS[step.action]
            if not key:
                return _place(where) if where else "the start screen"
            elsewhere = f" on {_place(where)}" if where and where != here else ""
            return f"{key} ({label}{elsewhere})"
        if isinstance(step, ChangeInput):
            field = FIELDS[step.input]
            if step.value and step.input not in _FILL_IN:  # (a credentials input's value is its site)
                value = step.value.capitalize() if step.input == "booru.source" else step.value
                return f"{step.verb} {value} as {field}" if step.verb else f"set {field} to {value}"
            return f"{step.verb or ('fill in' if step.input in _FILL_IN else 'set')} {field}"
        if isinstance(step, Given):
            return FIELDS[step.input] + (f" {step.value}" if step.value else "")
        return step.plain()  # a setting, a package, disk space, trying again: the same words everywhere

    return name


def say(error: UserError | Notice, here: str | None = None, *, placed: bool = True) -> str:
    """The one sentence the wizard shows for ``error`` on the step ``here``; ``placed=False`` leaves
    out where a setting was read (the sentence stands beside that setting's field)."""
    return (error.notice if isinstance(error, UserError) else error).text(namer(here), placed=placed)
