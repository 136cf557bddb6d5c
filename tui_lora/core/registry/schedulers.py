"""Learning-rate schedules (``training.lr_scheduler``), by the names kohya and diffusers share.

Adding a schedule is one :class:`Scheduler` entry in :data:`SCHEDULERS`; the trainer builds it
with diffusers' ``get_scheduler`` (imported inside :func:`build`), passing the settings the entry
says it uses.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# The [training] keys a schedule may read, and the get_scheduler argument each one becomes.
_ARGUMENTS = {"lr_scheduler_num_cycles": "num_cycles", "lr_scheduler_power": "power"}


class Scheduler(NamedTuple):
    name: str
    help: str
    warmup: bool = True  # honours lr_warmup_ratio / lr_warmup_steps (and needs the total steps)
    uses: tuple[str, ...] = ()  # further [training] keys it reads (see _ARGUMENTS)

    def kwargs(self, *, total_steps: int, warmup_steps: int, values: dict[str, Any]) -> dict[str, Any]:
        """get_scheduler's keyword arguments; ``values`` holds the keys of :attr:`uses` by name."""
        if not self.warmup:
            return {}
        out: dict[str, Any] = {"num_warmup_steps": warmup_steps, "num_training_steps": total_steps}
        for key in self.uses:
            out[_ARGUMENTS[key]] = values[key]
        return out


SCHEDULERS: dict[str, Scheduler] = {s.name: s for s in (
    Scheduler("constant", "The same rate from the first step to the last; ignores warmup.", warmup=False),
    Scheduler("constant_with_warmup", "Ramps up over the warmup, then stays constant."),
    Scheduler("cosine", "Ramps up, then follows half a cosine down to zero: gentle, clean late epochs."),
    Scheduler("cosine_with_restarts", "Cosine decay restarted lr_scheduler_num_cycles times over the run.",
              uses=("lr_scheduler_num_cycles",)),
    Scheduler("linear", "Ramps up, then falls in a straight line to zero."),
    Scheduler("polynomial", "Falls to zero along a power curve (lr_scheduler_power; 1 is linear).",
              uses=("lr_scheduler_power",)),
)}
NAMES: tuple[str, ...] = tuple(SCHEDULERS)


def build(name: str, optimizer: Any, *, total_steps: int, warmup_steps: int, values: dict[str, Any]) -> Any:
    """The diffusers schedule ``name`` over ``optimizer``."""
    from diffusers.optimization import get_scheduler

    entry = SCHEDULERS[name]
    return get_scheduler(name, optimizer, **entry.kwargs(total_steps=total_steps, warmup_steps=warmup_steps,
                                                         values=values))
