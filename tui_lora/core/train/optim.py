"""Optimizers (kohya's names) and learning-rate schedules (diffusers' implementations), built from
their registries (:mod:`tui_lora.core.registry.optimizers`, :mod:`~tui_lora.core.registry.schedulers`)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import ChangeSetting, ConfigError, Fix
from tui_lora.core.registry import optimizers, schedulers

if TYPE_CHECKING:
    import torch


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


def optimizer_class(name: str, device_type: str, warn: Callable[[str], None]) -> tuple[type, str, dict[str, Any]]:
    """(class, description for ss_optimizer, default kwargs) for kohya's optimizer name."""
    loaded = optimizers.get(name).load(warn)
    return loaded.cls, loaded.description, dict(loaded.defaults)


def build_optimizer(name: str, param_groups: list[dict[str, Any]], args: list[str], *, device_type: str,
                    warn: Callable[[str], None], fused: bool = False) -> tuple[torch.optim.Optimizer, str]:
    """The optimizer over ``param_groups`` (each with its own lr). Returns (optimizer, ss_optimizer text).

    ``fused`` (training.fused_optimizer) picks the optimizer's multi-tensor step where its registry
    entry has one (:func:`step_kernel`); the flag is not part of ss_optimizer (same maths).

    8-bit optimizers are for CUDA: elsewhere they become their 32-bit twins (bitsandbytes 0.50 runs
    AdamW8bit on the CPU, about 6× slower than AdamW, for a memory saving the CPU does not need).
    On CUDA, one trial step on a scratch parameter finds a bitsandbytes without a working backend,
    and AdamW takes over, with a warning.
    """
    entry = optimizers.get(name)
    if entry.full_precision and device_type != "cuda":
        # 8-bit states only save GPU memory; bitsandbytes' CPU kernels run, but several times slower.
        warn(f"{name} only saves GPU memory and is slower on the {device_type}; training uses "
             f"{entry.full_precision} (same maths).")
        name, entry = entry.full_precision, optimizers.get(entry.full_precision)
    cls, desc, defaults = optimizer_class(name, device_type, warn)
    kwargs = {**defaults, **parse_optimizer_args(args)}
    rates = {g["lr"] for g in param_groups}
    if entry.self_tuning and len(rates) > 1:
        # They refuse groups with different rates at their first step; say so before anything runs.
        raise ConfigError(f"{name} finds the step size itself and needs one learning rate for the UNet and the text "
                          "encoder", Fix("{} equal to training.unet_lr (usually 1.0), or train the UNet only",
                                         ChangeSetting("training.text_encoder_lr")))
    twin = entry.full_precision
    if twin and not optimizers.get(twin).package and not cls.__module__.startswith("torch.") \
            and not _trial_step(cls, kwargs, param_groups):
        # A bitsandbytes without a working backend here; the twin is torch's own, so it runs.
        warn(f"{name} does not run on {device_type} here, so training uses {twin} (same maths, more memory).")
        cls, desc, _ = optimizer_class(twin, device_type, warn)
    kernel = step_kernel(optimizers.get(name), kwargs, device_type=device_type, fused=fused)
    try:
        opt = cls(param_groups, **kwargs, **kernel)
    except TypeError as exc:
        raise ConfigError(f"training.optimizer_args do not fit {name} ({exc})", Fix("fix or remove them")) from None
    if kwargs:
        desc += "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
    return opt, desc


def step_kernel(entry: optimizers.Optimizer, kwargs: dict[str, Any], *, device_type: str,
                fused: bool) -> dict[str, bool]:
    """The step flags for ``entry``: ``{"fused": True}`` where torch has the fused kernel for the device
    (CUDA; the CPU too since torch 2.4, where it is also 4-6× faster than the other two on LoRA-sized
    tensors, benchmarks/RESULTS.md), else ``{"foreach": True}``; both False (one update per tensor)
    when ``fused`` is off. Nothing for optimizers without torch's kernels, or when optimizer_args
    already choose (they win)."""
    if not entry.kernels or {"fused", "foreach"} & set(kwargs):
        return {}
    if not fused:
        return {k: False for k in entry.kernels}
    if "fused" in entry.kernels and device_type in fused_devices():
        return {"fused": True}
    return {"foreach": True} if "foreach" in entry.kernels else {}


def fused_devices() -> tuple[str, ...]:
    """Device types torch's fused optimizer steps run on, as torch lists them ("cpu" since 2.4)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # a torch without the list: CUDA is the one it always had
        return ("cuda",)
    return tuple(_get_fused_kernels_supported_devices())


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load a checkpoint's optimizer state, keeping this run's step kernel (fused / foreach flags):
    the flags are no part of the maths, so a run may resume with training.fused_optimizer changed."""
    current = optimizer.state_dict()["param_groups"]
    groups = [{**g, **{k: c[k] for k in ("fused", "foreach") if k in c}}
              for g, c in zip(saved["param_groups"], current)]
    optimizer.load_state_dict({**saved, "param_groups": groups})


def _trial_step(cls: type, kwargs: dict[str, Any], param_groups: list[dict[str, Any]]) -> bool:
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


def build_scheduler(name: str, optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int,
                    num_cycles: int, power: float) -> Any:
    """The learning-rate schedule ``name`` (a diffusers LambdaLR) over ``optimizer``."""
    return schedulers.build(name, optimizer, total_steps=total_steps, warmup_steps=warmup_steps,
                           values={"lr_scheduler_num_cycles": num_cycles, "lr_scheduler_power": power})
