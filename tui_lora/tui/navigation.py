"""The wizard's steps, in order, and which of them exist yet.

A step with a ``screen`` opens that screen class (``module:Class`` under tui/, the step's own
package, imported when first opened so startup stays fast). A step whose core is still being built has
``screen=None`` and a ``coming`` sentence: the step bar shows it dimmed and says so instead of
opening a screen that pretends to work. Adding a step's screen is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    id: str
    label: str
    screen: str | None  # "package.module:Class" in tui_lora.tui, or None while it is being built
    coming: str = ""  # why the step is not available yet, and what to do meanwhile


STEPS: tuple[Step, ...] = (
    Step("project", "Project", "project.screen:ProjectScreen"),
    Step("fetch", "Fetch", "fetch.screen:FetchScreen"),
    Step("review", "Review", "review.screen:ReviewScreen"),
    Step("tags", "Tags", "tags.screen:TagsScreen"),
    Step("steps", "Steps", "steps.screen:StepsScreen"),
    Step("train", "Train", "train.screen:TrainScreen"),
    Step("compare", "Compare", "compare.screen:CompareScreen"),
)

STEP_INDEX: dict[str, Step] = {s.id: s for s in STEPS}


def available(step: Step) -> bool:
    return step.screen is not None


def neighbour(step_id: str, direction: int) -> Step | None:
    """The next (+1) or previous (-1) available step from ``step_id``, or None at either end."""
    ids = [s.id for s in STEPS]
    i = ids.index(step_id) + direction
    while 0 <= i < len(STEPS):
        if available(STEPS[i]):
            return STEPS[i]
        i += direction
    return None


def load_screen_class(step: Step):
    import importlib

    assert step.screen is not None
    module, _, cls = step.screen.partition(":")
    return getattr(importlib.import_module(f"tui_lora.tui.{module}"), cls)
