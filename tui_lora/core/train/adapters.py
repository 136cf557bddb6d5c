"""The peft adapter behind each network type, and its trained tensors as LoRA-file keys.

- ``lora`` (LoRA, LoCon; DoRA with ``use_dora``): ``lora_A`` / ``lora_B`` are kohya's ``lora_down`` /
  ``lora_up``; peft's DoRA magnitude (one norm per output row) is LyCORIS's ``dora_scale`` with
  ``wd_on_output``, stored ``(out, 1)`` / ``(out, 1, 1, 1)`` so loaders read its axis from the shape.
- ``loha``: peft's ``hada_w1_a`` … ``hada_w2_b`` have LyCORIS's layout (flat convolutions, no Tucker).
- ``lokr``: ``lokr_w1`` (or ``_a``/``_b``) and ``lokr_w2`` (or ``_a``/``_b``), no ``lokr_t2`` (ComfyUI
  cannot merge it). peft scales ΔW by alpha/rank always; the loaders (ComfyUI, A1111, LyCORIS) apply
  no scale when both factors are full matrices, so that scale is baked into ``lokr_w1`` and the file
  says ``alpha = rank``.

Scales are alpha/rank on both sides, so every file loads at the strength it was trained at
(/work/notes/lycoris_formats.md has the loaders' rules; ``tests/reference_merge.py`` proves it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ADAPTER = "default"
LOHA_PARTS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")
LOKR_PARTS = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b")


def lokr_factorization(dimension: int, factor: int = -1) -> tuple[int, int]:
    """LyCORIS's split of a layer side for LoKr: ``(m, n)``, m ≤ n, m·n = dimension.

    A factor that divides the dimension gives ``(factor, dimension / factor)`` (swapped so m ≤ n);
    otherwise (−1 = auto, or a factor that does not divide) the most balanced divisor pair near the
    square root, with m at most ``factor`` when one is given. ``m`` is the small full matrix w1's side.
    """
    if factor > 0 and dimension % factor == 0:
        m, n = factor, dimension // factor
        return (m, n) if m <= n else (n, m)
    limit = dimension if factor < 0 else factor
    m, n = 1, dimension
    while m < n:
        new_m = m + 1
        while dimension % new_m:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > m + n or new_m > limit:
            break
        m, n = new_m, new_n
    return (m, n) if m <= n else (n, m)


@contextlib.contextmanager
def _lycoris_factorization() -> Iterator[None]:
    """peft's LoKr splits ``factor`` unswapped ((16, 2) where LyCORIS has (2, 16)); the layers are
    built with LyCORIS's split instead, so network.lokr_factor means what it means in LyCORIS.
    peft's forward krons whatever shapes it was given, so nothing else changes."""
    from peft.tuners.lokr import layer

    original = layer.factorization
    layer.factorization = lokr_factorization
    try:
        yield
    finally:
        layer.factorization = original


def peft_config(adapter: str, *, rank: int, alpha: float, target_modules: list[str], rank_pattern: dict[str, int],
                alpha_pattern: dict[str, float], dora: bool = False, lokr_factor: int = -1) -> Any:
    """The peft config of ``adapter`` ("lora", "loha", "lokr") for these modules, ranks and alphas."""
    common = {"r": rank, "target_modules": target_modules, "rank_pattern": rank_pattern,
              "alpha_pattern": alpha_pattern}
    if adapter == "lora":
        from peft import LoraConfig

        return LoraConfig(lora_alpha=alpha, lora_dropout=0.0, init_lora_weights=True, bias="none", use_dora=dora,
                          **common)
    if adapter == "loha":
        from peft import LoHaConfig

        return LoHaConfig(alpha=alpha, use_effective_conv2d=False, init_weights=True, **common)
    if adapter == "lokr":
        from peft import LoKrConfig

        # LyCORIS's initialisation (w2 starts at zero) and its defaults: w1 full, no Tucker w2.
        return LoKrConfig(alpha=alpha, use_effective_conv2d=False, decompose_both=False,
                          decompose_factor=lokr_factor, init_weights="lycoris", **common)
    raise ValueError(f"unknown adapter {adapter!r}")


def inject_adapter(model: torch.nn.Module, config: Any, adapter: str) -> None:
    from peft import inject_adapter_in_model

    with _lycoris_factorization() if adapter == "lokr" else contextlib.nullcontext():
        inject_adapter_in_model(config, model, adapter_name=ADAPTER)


def is_wrapped(layer: Any, adapter: str) -> bool:
    """True when ``layer`` is a peft layer of ``adapter`` holding the default adapter."""
    if adapter == "lora":
        holder = getattr(layer, "lora_A", None)
    elif adapter == "loha":
        holder = getattr(layer, "hada_w1_a", None)
    else:
        holder = getattr(layer, "_available_adapters", None) if hasattr(layer, "lokr_w1") else None
    return holder is not None and ADAPTER in holder


def trainable(layer: Any, adapter: str) -> dict[str, torch.nn.Parameter]:
    """The trained tensors of one peft layer by name (the names resume states are keyed by):
    LoRA ``down`` / ``up`` (+ ``magnitude`` with DoRA), LoHa / LoKr their LyCORIS part names."""
    if adapter == "lora":
        out = {"down": layer.lora_A[ADAPTER].weight, "up": layer.lora_B[ADAPTER].weight}
        magnitude = getattr(layer, "lora_magnitude_vector", {})
        if ADAPTER in magnitude:
            out["magnitude"] = magnitude[ADAPTER].weight
        return out
    names = LOHA_PARTS if adapter == "loha" else LOKR_PARTS
    params = {n: getattr(layer, n)[ADAPTER] for n in names if ADAPTER in getattr(layer, n)}
    if adapter == "lokr" and ADAPTER in layer.lokr_t2:
        raise RuntimeError("LoKr with a Tucker lokr_t2 factor cannot be saved for ComfyUI")
    return params


def file_tensors(adapter: str, params: dict[str, torch.Tensor], *, rank: int, alpha: float
                 ) -> dict[str, torch.Tensor]:
    """``{part: float32 tensor}`` of one module in the LoRA file (``lora_down.weight``, ``hada_w1_a``,
    ``dora_scale``, ``alpha`` …), in the order the file lists them. ``alpha`` is a float64 scalar:
    the saver casts the number itself to the file's precision, as it always has."""
    import torch

    p = {k: v.detach().to("cpu", torch.float32) for k, v in params.items()}
    out: dict[str, torch.Tensor] = {}
    if adapter == "lora":
        out["lora_down.weight"] = p["down"]
        out["lora_up.weight"] = p["up"]
        out["alpha"] = torch.tensor(float(alpha), dtype=torch.float64)
        if "magnitude" in p:
            m = p["magnitude"]
            # peft: (out,) for Linear, (1, out, 1, 1) for Conv2d; the file: the output axis first.
            out["dora_scale"] = m.reshape(m.numel(), *([1] * (p["down"].dim() - 1)))
        return out
    if adapter == "loha":
        out.update({n: p[n] for n in LOHA_PARTS})
        out["alpha"] = torch.tensor(float(alpha), dtype=torch.float64)
        return out
    out.update({n: p[n] for n in LOKR_PARTS if n in p})
    if "lokr_w1" in out and "lokr_w2" in out:
        # Loaders apply two full factors unscaled; peft trained them at alpha/rank.
        out["lokr_w1"] = out["lokr_w1"] * (alpha / rank)
        out["alpha"] = torch.tensor(float(rank), dtype=torch.float64)
    else:
        out["alpha"] = torch.tensor(float(alpha), dtype=torch.float64)
    return out
