"""Optimizers (kohya's names) and learning-rate schedules (diffusers' implementations)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from tui_lora.core.errors import ChangeSetting, ConfigError, Fix, InstallPackage, UserError

_PIP_HINT = {
    "AdamW8bit": "bitsandbytes", "Lion": "bitsandbytes", "Lion8bit": "bitsandbytes",
    "Prodigy": "prodigyopt", "DAdaptAdam": "dadaptation", "Adafactor": "transformers",
}


def parse_optimizer_args(items: list[str]) -> dict[str, Any]:
    """``["weight_decay=0.01", "betas=(0.9,0.99)", "decouple=True"]`` → kwargs (kohya's syntax)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"training.optimizer_args item {item!r} is not key=value",
                              Fix("write e.g. \"weight_decay=0.01\""))
        raw = raw.strip()
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw  # a bare word such as a mode name
    return out


def _missing(name: str) -> UserError:
    pkg = _PIP_HINT.get(name, name.lower())
    return UserError(f"The {name} optimizer needs the {pkg} package",
                     Fix("install it with {} or {}", InstallPackage(pkg),
                         ChangeSetting("training.optimizer_type", verb="choose another")))


def optimizer_class(name: str, device_type: str, warn: Callable[[str], None]) -> tuple[type, str, dict[str, Any]]:
    """(class, description for ss_optimizer, default kwargs) for kohya's optimizer name."""
    import torch

    if name == "AdamW":
        return torch.optim.AdamW, "torch.optim.adamw.AdamW", {}
    if name in ("AdamW8bit", "Lion", "Lion8bit"):
        try:
            import bitsandbytes as bnb
        except Exception:  # noqa: BLE001 - a broken CUDA setup raises more than ImportError
            if name == "AdamW8bit":
                warn("bitsandbytes cannot be loaded here, so AdamW8bit falls back to AdamW (more VRAM, same maths).")
                return torch.optim.AdamW, "torch.optim.adamw.AdamW", {}
            raise _missing(name) from None
        cls = {"AdamW8bit": bnb.optim.AdamW8bit, "Lion": bnb.optim.Lion, "Lion8bit": bnb.optim.Lion8bit}[name]
        return cls, f"{cls.__module__}.{cls.__name__}", {}
    if name == "Prodigy":
        try:
            from prodigyopt import Prodigy
        except ImportError:
            raise _missing(name) from None
        return Prodigy, "prodigyopt.prodigy.Prodigy", {}
    if name == "DAdaptAdam":
        try:
            from dadaptation import DAdaptAdam
        except ImportError:
            raise _missing(name) from None
        return DAdaptAdam, "dadaptation.dadapt_adam.DAdaptAdam", {}
    if name == "Adafactor":
        from transformers.optimization import Adafactor

        # kohya's LoRA recipe: a fixed learning rate, no relative step or parameter scaling.
        return Adafactor, "transformers.optimization.Adafactor", {
            "scale_parameter": False, "relative_step": False, "warmup_init": False}
    raise ConfigError(f"training.optimizer_type {name!r} is unknown",
                      Fix("choose AdamW, AdamW8bit, Lion, Lion8bit, Prodigy, DAdaptAdam or Adafactor"))


def build_optimizer(name: str, param_groups: list[dict[str, Any]], args: list[str], *, device_type: str,
                    warn: Callable[[str], None]):
    """The optimizer over ``param_groups`` (each with its own lr). Returns (optimizer, ss_optimizer text).

    8-bit optimizers are for CUDA: elsewhere they become their 32-bit twins (bitsandbytes 0.50 runs
    AdamW8bit on the CPU, about 6× slower than AdamW, for a memory saving the CPU does not need).
    On CUDA, one trial step on a scratch parameter finds a bitsandbytes without a working backend,
    and AdamW takes over, with a warning.
    """
    import torch

    if name in ("AdamW8bit", "Lion8bit") and device_type != "cuda":
        # 8-bit states only save GPU memory; bitsandbytes' CPU kernels run, but several times slower.
        plain = name.replace("8bit", "")
        warn(f"{name} only saves GPU memory and is slower on the {device_type}; training uses {plain} (same maths).")
        name = plain
    cls, desc, defaults = optimizer_class(name, device_type, warn)
    kwargs = {**defaults, **parse_optimizer_args(args)}
    rates = {g["lr"] for g in param_groups}
    if name in ("Prodigy", "DAdaptAdam") and len(rates) > 1:
        # Both refuse groups with different rates at their first step; say so before anything runs.
        raise ConfigError(f"{name} finds the step size itself and needs one learning rate for the UNet and the text "
                          "encoder", Fix("{} equal to training.unet_lr (usually 1.0), or train the UNet only",
                                         ChangeSetting("training.text_encoder_lr")))
    if name == "AdamW8bit" and cls is not torch.optim.AdamW and not _trial_step(cls, kwargs, param_groups):
        warn(f"AdamW8bit does not run on {device_type} here, so training uses AdamW (same maths, more memory).")
        cls, desc = torch.optim.AdamW, "torch.optim.adamw.AdamW"
    try:
        opt = cls(param_groups, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"training.optimizer_args do not fit {name} ({exc})", Fix("fix or remove them")) from None
    if kwargs:
        desc += "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
    return opt, desc


def _trial_step(cls, kwargs, param_groups) -> bool:
    import torch

    ref = param_groups[0]["params"][0]
    p = torch.nn.Parameter(torch.zeros(4096, device=ref.device, dtype=torch.float32))
    try:
        opt = cls([p], lr=1e-3, **kwargs)
        p.grad = torch.ones_like(p)
        opt.step()
        return bool(torch.isfinite(p).all())
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False


def build_scheduler(name: str, optimizer, *, total_steps: int, warmup_steps: int, num_cycles: int, power: float):
    from diffusers.optimization import get_scheduler

    kwargs: dict[str, Any] = {"num_warmup_steps": warmup_steps, "num_training_steps": total_steps}
    if name == "cosine_with_restarts":
        kwargs["num_cycles"] = num_cycles
    if name == "polynomial":
        kwargs["power"] = power
    if name == "constant":
        kwargs = {}
    return get_scheduler(name, optimizer, **kwargs)
