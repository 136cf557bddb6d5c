"""Optimizers by kohya's names (``training.optimizer_type``).

Adding an optimizer is one :class:`Optimizer` entry in :data:`OPTIMIZERS` plus its ``load``
function. The schema's choices, the planner (VRAM per parameter, learning-rate advice), the
trainer (:mod:`tui_lora.core.train.optim`) and the out-of-memory / NaN advice all read the entry.
``load`` imports its library inside the function: core never imports torch at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from tui_lora.core.errors import ChangeSetting, ConfigError, Fix, InstallPackage, UserError

Warn = Callable[[str], None]


class Loaded(NamedTuple):
    """What ``load`` returns: the class, its name for ``ss_optimizer``, and default kwargs."""

    cls: type
    description: str
    defaults: Mapping[str, Any] = {}


class Optimizer(NamedTuple):
    name: str
    help: str
    load: Callable[[Warn], Loaded]  # raises a UserError naming ``package`` when it is not installed
    package: str = ""  # the pip package that provides it ("" when torch itself does)
    state_bytes: int = 8  # optimizer state per trainable parameter, for the VRAM estimate
    self_tuning: bool = False  # finds the step size itself: wants rates near 1.0, one rate for all groups
    full_precision: str = ""  # an 8-bit optimizer's 32-bit twin (same maths): used off CUDA
    max_lr: float = 1e-3  # the planner warns above this rate
    lr_note: str = ""  # the planner's reason when max_lr is lower than AdamW's
    # torch's multi-tensor step implementations the class takes as keyword flags ("fused", "foreach"):
    # training.fused_optimizer picks fused on CUDA, foreach elsewhere; the others keep their own step.
    kernels: tuple[str, ...] = ()

    def missing(self) -> UserError:
        pkg = self.package or self.name.lower()
        return UserError(f"The {self.name} optimizer needs the {pkg} package",
                         Fix("install it with {} or {}", InstallPackage(pkg),
                             ChangeSetting("training.optimizer_type", verb="choose another")))


def _adamw(warn: Warn) -> Loaded:
    import torch

    return Loaded(torch.optim.AdamW, "torch.optim.adamw.AdamW")


def _bitsandbytes(name: str) -> Callable[[Warn], Loaded]:
    """The loader of bitsandbytes' optimizer ``name`` (the class has kohya's name). Without a
    usable bitsandbytes, an 8-bit optimizer whose twin is torch's own falls back to the twin."""

    def load(warn: Warn) -> Loaded:
        try:
            import bitsandbytes as bnb
        except Exception:  # noqa: BLE001 - a broken CUDA setup raises more than ImportError
            twin = OPTIMIZERS.get(OPTIMIZERS[name].full_precision)
            if twin is not None and not twin.package:
                warn(f"bitsandbytes cannot be loaded here, so {name} falls back to {twin.name} (more VRAM, "
                     "same maths).")
                return twin.load(warn)
            raise OPTIMIZERS[name].missing() from None
        cls = getattr(bnb.optim, name)
        return Loaded(cls, f"{cls.__module__}.{cls.__name__}")

    return load


def _prodigy(warn: Warn) -> Loaded:
    try:
        from prodigyopt import Prodigy
    except ImportError:
        raise OPTIMIZERS["Prodigy"].missing() from None
    return Loaded(Prodigy, "prodigyopt.prodigy.Prodigy")


def _dadapt_adam(warn: Warn) -> Loaded:
    try:
        from dadaptation import DAdaptAdam
    except ImportError:
        raise OPTIMIZERS["DAdaptAdam"].missing() from None
    return Loaded(DAdaptAdam, "dadaptation.dadapt_adam.DAdaptAdam")


def _adafactor(warn: Warn) -> Loaded:
    try:
        from transformers.optimization import Adafactor
    except ImportError:
        raise OPTIMIZERS["Adafactor"].missing() from None

    # kohya's LoRA recipe: a fixed learning rate, no relative step or parameter scaling.
    return Loaded(Adafactor, "transformers.optimization.Adafactor",
                  {"scale_parameter": False, "relative_step": False, "warmup_init": False})


_LION_NOTE = "Lion, which wants 3-10× lower rates than AdamW"

OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("AdamW", "The reference optimizer: reliable, two 32-bit states per weight.", _adamw,
              state_bytes=8, kernels=("fused", "foreach")),
    Optimizer("AdamW8bit", "AdamW with 8-bit states: the same results with less VRAM (CUDA only).",
              _bitsandbytes("AdamW8bit"), package="bitsandbytes", state_bytes=2, full_precision="AdamW"),
    Optimizer("Lion", "One state per weight and sign-based updates: less memory than AdamW, 3-10× lower rates.",
              _bitsandbytes("Lion"), package="bitsandbytes", state_bytes=4, max_lr=3e-4, lr_note=_LION_NOTE),
    Optimizer("Lion8bit", "Lion with 8-bit states (CUDA only).", _bitsandbytes("Lion8bit"), package="bitsandbytes",
              state_bytes=1, full_precision="Lion", max_lr=3e-4, lr_note=_LION_NOTE),
    Optimizer("Prodigy", "Finds the learning rate itself: set the rates to 1.0.", _prodigy, package="prodigyopt",
              state_bytes=16, self_tuning=True),
    Optimizer("DAdaptAdam", "D-Adaptation Adam: finds the learning rate itself; set the rates to 1.0.",
              _dadapt_adam, package="dadaptation", state_bytes=16, self_tuning=True),
    Optimizer("Adafactor", "Factored second moments: little memory, at a fixed learning rate (kohya's recipe).",
              _adafactor, package="transformers", state_bytes=4),
)}
NAMES: tuple[str, ...] = tuple(OPTIMIZERS)
SELF_TUNING: tuple[str, ...] = tuple(o.name for o in OPTIMIZERS.values() if o.self_tuning)


def find(name: str) -> Optimizer | None:
    """The entry for ``name`` in any letter case, or None."""
    for o in OPTIMIZERS.values():
        if o.name.lower() == (name or "").lower():
            return o
    return None


def get(name: str) -> Optimizer:
    """The entry for ``name``; an unknown name is a ConfigError listing the choices."""
    found = find(name)
    if found is None:
        raise ConfigError(f"training.optimizer_type {name!r} is unknown",
                          Fix(f"choose {', '.join(NAMES[:-1])} or {NAMES[-1]}"))
    return found


def eight_bit_twin(name: str) -> str | None:
    """The 8-bit optimizer with the same maths as ``name`` (AdamW → AdamW8bit), if there is one."""
    return next((o.name for o in OPTIMIZERS.values() if o.full_precision == name), None)
