"""The speed levers of ``[training]`` as facts, without torch: what ``low_vram`` turns on, and which
levers leave what the LoRA learns unchanged (beyond float rounding).

The trainer (:mod:`tui_lora.core.train.levers`, :mod:`~tui_lora.core.train.lowbit`) applies them;
the planner (:mod:`tui_lora.core.vram`) and the resume check (:mod:`tui_lora.core.train.record`)
read these facts, so all three agree on what a setting does.
"""

from __future__ import annotations

from tui_lora.core.registry import optimizers
from tui_lora.core.settings import Settings

# Levers that change how fast a step runs, never what it computes beyond float rounding (TF32 rounds
# fp32 products to 10 mantissa bits; a fused kernel sums in another order). Changing them between a
# stop and --resume is allowed. fp8_base / low_vram round the base model's weights: not in this list.
SPEED_ONLY_KEYS: frozenset[str] = frozenset({
    "training.allow_tf32", "training.fused_optimizer", "training.torch_compile", "training.channels_last",
})


def low_vram_changes(settings: Settings) -> dict[str, object]:
    """The settings a run changes because of ``training.low_vram`` / ``training.fp8_base``, as
    ``{"section.key": value}`` (empty when there is nothing to change).

    low_vram turns on fp8_base, gradient checkpointing and the 8-bit twin of the optimizer (AdamW →
    AdamW8bit) where there is one. fp8_base needs gradient checkpointing: without it the backward pass
    keeps a widened copy of every layer's weights, more memory than 16-bit weights alone."""
    t = settings.training
    out: dict[str, object] = {}
    if t.low_vram:
        if not t.fp8_base:
            out["training.fp8_base"] = True
        twin = optimizers.eight_bit_twin(t.optimizer_type)
        if twin:
            out["training.optimizer_type"] = twin
    if (t.low_vram or t.fp8_base) and not t.gradient_checkpointing:
        out["training.gradient_checkpointing"] = True
    return out


def with_low_vram(settings: Settings) -> Settings:
    """``settings`` as a run uses them: with what ``low_vram`` / ``fp8_base`` turn on applied."""
    changes = low_vram_changes(settings)
    return settings.with_values(changes) if changes else settings


def text_encoders_cached(settings: Settings) -> bool:
    """Whether a run caches the text encoders' outputs (and moves them off the GPU): asked for, the
    text encoders frozen, and every image's caption the same at every step."""
    d, t, n = settings.dataset, settings.training, settings.network
    trains_te = not n.network_train_unet_only and t.text_encoder_lr > 0
    return d.cache_text_encoder_outputs and not trains_te and not d.shuffle_caption and not d.caption_dropout_rate


def describe_changes(changes: dict[str, object]) -> str:
    """``training.fp8_base = true, training.optimizer_type = AdamW8bit`` for a log line."""
    def show(v: object) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    return ", ".join(f"{k} = {show(v)}" for k, v in changes.items())
