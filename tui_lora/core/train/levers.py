"""The speed levers of ``[training]`` applied to a run's models (facts in :mod:`tui_lora.core.speed`):
TF32, channels-last, regional torch.compile, and pinned caches for asynchronous copies.

None changes what a step computes beyond float rounding; the 8-bit base weights of ``fp8_base`` /
``low_vram`` are :mod:`.lowbit`, the fused optimizer step is the optimizer registry's
(:func:`tui_lora.core.train.optim.step_kernel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# The UNet's repeated blocks: compiled one by one ("regional compilation"), so a new bucket size
# recompiles a few small graphs instead of the whole UNet, and equal blocks share their code.
COMPILED_BLOCKS = ("BasicTransformerBlock", "ResnetBlock2D")
# Equal blocks with other channel counts or bucket sizes each add a graph; dynamo's default limit (8)
# would fall back to eager for the rest of the run.
RECOMPILE_LIMIT = 64


def set_tf32(device_type: str, on: bool) -> bool:
    """TF32 for fp32 matrix products and cuDNN convolutions on CUDA (Ampere and newer use it, older
    GPUs ignore it). Returns whether anything was set: nothing on the CPU.

    Matrix products through ``set_float32_matmul_precision`` ("high" / "highest"), which keeps torch's
    old and new precision switches consistent: setting only the new per-backend one makes
    ``get_float32_matmul_precision()`` (which inductor's autotuning reads) raise."""
    if device_type != "cuda":
        return False
    import torch

    torch.set_float32_matmul_precision("high" if on else "highest")
    cudnn = torch.backends.cudnn
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):  # torch 2.9+
        cudnn.conv.fp32_precision = "tf32" if on else "ieee"
    else:
        cudnn.allow_tf32 = on
    return True


def to_channels_last(*modules: torch.nn.Module | None) -> None:
    """Channels-last memory format for the 4-D weights (convolutions) of ``modules``; inputs follow
    by themselves, since convolutions keep the layout of their weights."""
    import torch

    for m in modules:
        if m is not None:
            m.to(memory_format=torch.channels_last)


def compile_blocks(unet: torch.nn.Module, *, log: Callable[[str], None] = lambda _: None) -> int:
    """torch.compile (inductor) each transformer and ResNet block of ``unet`` in place, after the LoRA
    is injected (its layers are inside the blocks). Shapes that change between calls (bucket sizes)
    turn dynamic after their first recompile. Returns the number of blocks."""
    import torch
    import torch._dynamo.config as dynamo_config

    if hasattr(dynamo_config, "recompile_limit"):
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    else:  # torch < 2.6
        dynamo_config.cache_size_limit = max(dynamo_config.cache_size_limit, RECOMPILE_LIMIT)
    blocks = [m for m in unet.modules() if type(m).__name__ in COMPILED_BLOCKS]
    for block in blocks:
        block.compile(dynamic=None)
    torch._dynamo.reset()  # a fresh cache: graphs of an earlier run in this process do not count
    log(f"torch.compile: {len(blocks)} UNet blocks compile at the first step of each bucket size")
    return len(blocks)


def pin_caches(latents: Any, te_cache: dict[str, Any] | None) -> None:
    """Page-lock the cached latents and text-encoder outputs (host memory), so each step's copy to
    the GPU does not wait for it (:func:`.hostsync.to_device`)."""
    from tui_lora.core.train.hostsync import pin

    if latents is not None:
        for table in (latents.latents, latents.flipped):
            for k in list(table):
                table[k] = pin(table[k])
    if te_cache is not None:
        for caption, (hidden, pooled) in list(te_cache.items()):
            te_cache[caption] = (pin(hidden), pin(pooled) if pooled is not None else None)

