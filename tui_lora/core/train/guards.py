"""Runs that go wrong in ways users meet: a loss that turns NaN, a GPU that runs out of memory.

Both end the run with one sentence that says what happened and what to change, instead of a
traceback or (worse) a LoRA file full of NaN that loads fine and renders black images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tui_lora.core.errors import ChangeSetting, Fix, Notice, OperationFailed
from tui_lora.core.registry import optimizers
from tui_lora.core.settings import Settings

_FP16_FIXED_VAE = ("fp16-fix", "fp16_fix", "fp16fix")


class TrainingDiverged(OperationFailed):
    """The loss or the weights stopped being finite numbers; nothing after the last good save is written."""


def finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def tensors_finite(tensors: dict[str, Any]) -> bool:
    import torch

    return all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())


def likely_causes(settings: Settings, family: str, mixed_precision: str) -> list[str]:
    """What usually makes a LoRA run diverge, given these settings (most likely first)."""
    t = settings.training
    causes = []
    vae = settings.model.vae
    if family == "sdxl" and mixed_precision == "fp16" and not any(s in vae.lower() for s in _FP16_FIXED_VAE):
        causes.append('the SDXL VAE overflows in fp16: set training.mixed_precision = "bf16", or model.vae to an '
                      "fp16-fixed VAE such as madebyollin/sdxl-vae-fp16-fix")
    elif mixed_precision == "fp16":
        causes.append('fp16 overflow: try training.mixed_precision = "bf16" if the GPU supports it')
    lr = t.unet_lr or t.text_encoder_lr
    if optimizers.get(t.optimizer_type).self_tuning:
        causes.append(f"{t.optimizer_type} with a step size that grew too large: keep the learning rate at 1.0 "
                      "and add optimizer_args such as \"d_coef=0.5\"")
    else:
        causes.append(f"a learning rate that is too high: lower training.unet_lr (now {lr:g}), e.g. to 1e-4")
    if t.optimizer_args:
        causes.append("training.optimizer_args (" + ", ".join(t.optimizer_args) + ")")
    return causes


def diverged_message(*, what: str, step: int, epoch: int, settings: Settings, family: str,
                     mixed_precision: str, last_good: str | None) -> Notice:
    """One sentence for a run stopped because ``what`` ("the loss", "the LoRA weights") is NaN or infinite."""
    kept = (f"the last good LoRA is {last_good}" if last_good
            else "no LoRA file was written from the broken weights")
    causes = likely_causes(settings, family, mixed_precision)
    return Notice(f"Training stopped at step {step} (epoch {epoch}) because {what} became NaN or infinite, and {kept}",
                  Fix(f"likely causes: {'; or '.join(causes)}; change that and train again"))


# ----- out of memory ------------------------------------------------------------------------
def out_of_memory_kind(exc: BaseException) -> str | None:
    """"cuda" for a CUDA out-of-memory error, "cpu" for a failed RAM allocation, else None."""
    name = type(exc).__name__
    text = str(exc)
    if name == "OutOfMemoryError" or "CUDA out of memory" in text or "CUDA error: out of memory" in text:
        return "cuda"
    if isinstance(exc, MemoryError) or "DefaultCPUAllocator: can't allocate memory" in text:
        return "cpu"
    return None


@dataclass(frozen=True)
class Change:
    key: str
    value: Any
    text: str


def _estimate(s: Settings, family: str) -> float:
    from dataclasses import replace

    from tui_lora.core.plan import PlanInput, vram_for

    return vram_for(replace(PlanInput.from_settings(s), family=family)).total_gb


def _candidates(s: Settings) -> list[Change]:
    """Changes that save memory, cheapest in quality first (one step each; applied in turn)."""
    t, n, d = s.training, s.network, s.dataset
    out = []
    if not d.cache_latents:
        out.append(Change("dataset.cache_latents", True, "dataset.cache_latents = true"))
    if not t.gradient_checkpointing:
        out.append(Change("training.gradient_checkpointing", True, "training.gradient_checkpointing = true"))
    if t.mixed_precision == "no":
        out.append(Change("training.mixed_precision", "bf16", 'training.mixed_precision = "bf16"'))
    eight = optimizers.eight_bit_twin(t.optimizer_type)
    if eight:
        out.append(Change("training.optimizer_type", eight, f'training.optimizer_type = "{eight}"'))
    batch = t.train_batch_size
    while batch > 1:
        batch //= 2
        out.append(Change("training.train_batch_size", batch, f"training.train_batch_size = {batch}"))
    dim = n.network_dim
    while dim > 8:
        dim //= 2
        out.append(Change("network.network_dim", dim, f"network.network_dim = {dim}"))
    return out


def memory_advice(settings: Settings, family: str, card_gb: float) -> tuple[list[str], float, float]:
    """(changes, estimate before, estimate after): changes taken in order of least harm to the LoRA
    (caching, checkpointing, precision, 8-bit states, then batch and dim halved) until the planner's
    VRAM estimate fits the card with 10 % headroom. When the estimate already claims
    to fit (another program holds memory, or the estimate is low) it aims 20 % below it."""
    changes, before, after = _memory_changes(settings, family, card_gb)
    return [c.text for c in changes], before, after


def _memory_changes(settings: Settings, family: str, card_gb: float) -> tuple[list[Change], float, float]:
    s = settings
    before = _estimate(s, family)
    target = min(card_gb * 0.9, before * 0.8)
    chosen: dict[str, Change] = {}
    after = before
    for change in _candidates(s):
        if after <= target:
            break
        s = s.with_values({change.key: change.value})
        chosen[change.key] = change  # a later halving replaces an earlier one of the same key
        after = _estimate(s, family)
    return list(chosen.values()), before, after


def oom_message(settings: Settings, *, family: str, step: int, card_gb: float | None, card: str = "") -> Notice:
    """One sentence for a CUDA out-of-memory error, with the changes that make the estimate fit."""
    where = f"at step {step}" if step else "before the first step"
    if not card_gb:
        return Notice(f"The GPU ran out of memory {where}",
                      Fix("{}, {} or {}, then train again",
                          ChangeSetting("training.gradient_checkpointing", verb="turn on"),
                          ChangeSetting("training.train_batch_size", verb="lower"),
                          ChangeSetting("network.network_dim", verb="")))
    changes, before, after = _memory_changes(settings, family, card_gb)
    name = f"{card} ({card_gb:.0f} GB)" if card else f"{card_gb:.0f} GB card"
    head = (f"The GPU ran out of memory {where} on the {name}; the planner estimates {before:.1f} GB for these "
            "settings")
    if not changes:
        return Notice(f"{head} and has nothing left to cut",
                      Fix("close other programs that use the GPU (see nvidia-smi) or {}",
                          ChangeSetting("dataset.resolution", verb="train at a lower")))
    fits = "" if after <= card_gb * 0.9 else ", still more than the card has, so also lower dataset.resolution"
    words = "set " + ", ".join("{}" for _ in changes) + f" (about {after:.1f} GB{fits}), then train again"
    return Notice(head, Fix(words, *(ChangeSetting(c.key, c.text.partition(" = ")[2], verb="") for c in changes)))


def ram_message(step: int) -> Notice:
    where = f"at step {step}" if step else "before the first step"
    return Notice(f"The machine ran out of RAM {where}",
                  Fix("{}, {}, or close other programs, then train again",
                      ChangeSetting("dataset.cache_latents", verb="turn on"),
                      ChangeSetting("training.train_batch_size", verb="lower")))


def _cuda_card() -> tuple[float | None, str]:
    try:
        import torch

        if not torch.cuda.is_available():
            return None, ""
        torch.cuda.empty_cache()
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return props.total_memory / 2**30, props.name
    except Exception:  # noqa: BLE001 - advice without the card's size is still advice
        return None, ""


def failure_message(exc: BaseException, settings: Settings, *, step: int, family: str) -> Notice | None:
    """The sentence for a failure users can fix that arrives as a library exception (out of memory)
    at ``step`` (0: before the first) of a run on a ``family`` model."""
    kind = out_of_memory_kind(exc)
    if kind is None:
        return None
    if kind == "cpu":
        return ram_message(step)
    card_gb, card = _cuda_card()
    return oom_message(settings, family=family, step=step, card_gb=card_gb, card=card)
