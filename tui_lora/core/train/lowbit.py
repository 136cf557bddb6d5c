"""8-bit storage of the frozen UNet's weights (``training.fp8_base``, part of ``low_vram``): kohya's
``--fp8_base``, with a scale per output channel.

Every Linear and Conv2d weight of the base UNet (not the LoRA's) is stored in 8 bits and widened to
the compute dtype only while its layer runs (a parametrization on ``weight``), so the UNet needs about
half the memory of fp16 / bf16 weights. With gradient checkpointing (low_vram turns it on) only the
blocks being recomputed hold widened copies. Two formats, one scale per output channel (absmax):

- ``fp8``: ``torch.float8_e4m3fn``, on GPUs with fp8 (compute capability 8.9: RTX 40xx, L4, H100 and
  newer) and on the CPU. The scale keeps small weights out of fp8's subnormal range, where a plain
  cast (kohya's) loses most of their digits.
- ``int8``: weight-only int8 from bitsandbytes' row-wise quantizer (LLM.int8's), on older GPUs.

The LoRA's own weights stay in fp32 and train as usual; the saved file is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FP8_MAX = 448.0  # largest finite float8_e4m3fn
FP8_CAPABILITY = (8, 9)  # Ada / Hopper: the first GPUs with fp8 tensor cores


def storage_format(device_type: str, capability: tuple[int, int] | None = None) -> str:
    """``fp8`` or ``int8`` for a device (``capability``: CUDA's compute capability)."""
    if device_type == "cuda" and capability is not None and tuple(capability) < FP8_CAPABILITY:
        return "int8"
    return "fp8"


def device_format(device: torch.device) -> str:
    import torch

    cap = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    return storage_format(device.type, cap)


def _widen_class():
    import torch

    class Widen(torch.nn.Module):
        """The parametrization: the stored 8-bit weight, widened and scaled per output channel."""

        def __init__(self, scale: torch.Tensor, dtype: torch.dtype) -> None:
            super().__init__()
            self.register_buffer("scale", scale.to(dtype))
            self.dtype = dtype

        def forward(self, stored: torch.Tensor) -> torch.Tensor:
            return stored.to(self.dtype) * self.scale

    return Widen


def quantize(weight: torch.Tensor, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(8-bit weight, per-output-channel scale shaped to broadcast over it)."""
    import torch

    rows = weight.detach().reshape(weight.shape[0], -1)
    shape = (weight.shape[0],) + (1,) * (weight.dim() - 1)
    if fmt == "int8":
        import bitsandbytes.functional as bnb_f

        q, row_absmax, _ = bnb_f.int8_vectorwise_quant(rows.to(torch.float16))
        return q.reshape(weight.shape), (row_absmax.float() / 127.0).reshape(shape)
    if fmt != "fp8":
        raise ValueError(f"unknown 8-bit format {fmt!r}")
    scale = (rows.float().abs().amax(dim=1) / FP8_MAX).clamp(min=1e-12).reshape(shape)
    return (weight.detach().float() / scale).to(torch.float8_e4m3fn), scale


def store_8bit(model: torch.nn.Module, fmt: str, dtype: torch.dtype, *,
               skip: Iterable[torch.nn.Parameter] = ()) -> tuple[int, int]:
    """Store the weight of every Linear / Conv2d of ``model`` whose weight is frozen and not in ``skip``
    in ``fmt``, widened to ``dtype`` when used. Returns (bytes before, bytes after) of those weights."""
    import torch
    from torch.nn.utils import parametrize

    widen = _widen_class()
    skipped = {id(p) for p in skip}
    before = after = 0
    targets = [m for m in model.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and not parametrize.is_parametrized(m, "weight")
               and not m.weight.requires_grad and id(m.weight) not in skipped]
    for m in targets:
        w = m.weight
        q, scale = quantize(w, fmt)
        before += w.numel() * w.element_size()
        after += q.numel() * q.element_size() + scale.numel() * scale.element_size()
        m.weight = torch.nn.Parameter(q, requires_grad=False)
        parametrize.register_parametrization(m, "weight", widen(scale, dtype), unsafe=True)
    return before, after


def is_8bit(module: torch.nn.Module) -> bool:
    """Whether ``module``'s weight is stored in 8 bits by :func:`store_8bit`."""
    from torch.nn.utils import parametrize

    return parametrize.is_parametrized(module, "weight") and \
        module.parametrizations.weight.original.element_size() == 1
