"""The VRAM estimate: peak training memory as a sum of parts, from parameter counts measured on
the real models, the network type's and the optimizer's facts (their registries), and activation
figures per image. Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_lora.core.registry import networks, optimizers
from tui_lora.core.settings import Settings

_DEFAULTS = Settings()  # arguments left out take the schema's defaults


@dataclass
class VramEstimate:
    total_gb: float
    parts: dict[str, float]


# Parameter counts in millions (measured from the diffusers configs of the real models).
_PARAMS_M = {
    "sd15": {"unet": 859.5, "te": 123.1, "vae": 83.7},
    "sdxl": {"unet": 2567.5, "te": 123.1 + 693.0, "vae": 83.7},
}
# LoRA parameters per unit of rank, in millions (kohya's default target layers).
_LORA_PER_RANK_M = {
    "sd15": {"unet": 0.424, "conv": 0.579, "te": 0.166},
    "sdxl": {"unet": 2.660, "conv": 0.379, "te": 0.166 + 0.737},
}
# Weights of the adapted UNet layers in millions (measured the same way): attention / feed-forward
# (kohya's LoRA targets), the same plus the Linear and 1×1 layers of the ResNet blocks (conv types),
# and the 3×3 convolutions. LoHa's and LoKr's full-size ΔW per layer are counted from these.
_ADAPTED_M = {
    "sd15": {"lora": 267.0, "conv_types": 316.0, "conv": 541.0},
    "sdxl": {"lora": 2207.7, "conv_types": 2238.8, "conv": 319.8},
}
# DoRA keeps the base output and the LoRA output of each adapted layer for the magnitude's gradient.
# Uncalibrated guess; calibrated on a GPU later (benchmarks/RESULTS.md).
_DORA_ACTIVATIONS = 1.3
# With gradient checkpointing a block's saved tensors live only while it is recomputed.
_CHECKPOINTED_SHARE = 0.1
# UNet activation memory (GB) for one image at the family's native resolution in half
# precision: (without, with) gradient checkpointing. Uncalibrated guesses from published
# kohya figures; calibrated on a GPU later (benchmarks/RESULTS.md).
_NATIVE_RES = {"sd15": 512, "sdxl": 1024}
_ACT_GB = {"sd15": (2.6, 0.6), "sdxl": (12.0, 2.4)}
# Optimizer state bytes per trainable parameter come from the optimizer registry.
_CUDA_OVERHEAD_GB = 0.6
# fp8_base: the largest gradient-checkpointed segment's weights (millions), widened to 16 bits while it
# is recomputed and back-propagated: the first up-block's ResNet (2560 → 1280 channels) in both.
_WIDEN_SEGMENT_M = {"sd15": 48.0, "sdxl": 48.0}


def estimate_vram(
    *,
    family: str,
    resolution: int,
    batch_size: int,
    network_dim: int,
    conv_dim: int = 0,
    network_type: str = _DEFAULTS.network.network_type,
    dora: bool = _DEFAULTS.network.dora,
    mixed_precision: str = _DEFAULTS.training.mixed_precision,
    gradient_checkpointing: bool = _DEFAULTS.training.gradient_checkpointing,
    optimizer: str = _DEFAULTS.training.optimizer_type,
    train_text_encoder: bool = True,
    cache_latents: bool = _DEFAULTS.dataset.cache_latents,
    fp8_base: bool = _DEFAULTS.training.fp8_base,
    text_encoders_cached: bool = False,
) -> VramEstimate:
    """Peak training VRAM in GB, as a sum of parts:

    frozen weights  = (UNet + text encoders [+ VAE unless latents are cached]) × bytes/param
                      (2 for fp16/bf16, 4 for fp32); the text encoders stay on the GPU unless their
                      outputs are cached (``text_encoders_cached``: speed.text_encoders_cached);
                      with ``fp8_base`` the UNet's weights take 1 byte/param
    fp8 widening    = with ``fp8_base``: the 16-bit copy of the largest checkpointed segment's
                      weights (fp8_base comes with gradient checkpointing)
    LoRA            = rank × LoRA-params-per-rank × the network type's params_per_rank
                      × (4 B weights + 4 B grads + the optimizer's state B); the conv term only for
                      types that train convolutions (``conv_dim`` 0 turns it off)
    activations     = per-image activations at the native resolution (with or without gradient
                      checkpointing) × batch × (resolution / native)², ×2 in fp32, plus 15 %
                      for the text encoders when they train, × 1.3 with DoRA
    adapter ΔW      = types that build ΔW in full (LoHa, LoKr): the adapted UNet weights × the type's
                      weight_copies × 4 B (a tenth of it with gradient checkpointing)
    VAE encode      = when latents are not cached: the VAE's activations for one batch
    overhead        = CUDA context and allocator slack (0.6 GB + 8 %)

    The pure speed levers (allow_tf32, fused_optimizer, torch_compile, channels_last) have no term:
    they change how fast the same tensors are computed, not which are kept (compile's fusions may
    save some activations; the GPU benchmark measures it, benchmarks/RESULTS.md).
    """
    fam = family if family in _PARAMS_M else "sd15"
    bpp = 4 if mixed_precision == "no" else 2
    p = _PARAMS_M[fam]
    frozen_m = (0 if text_encoders_cached else p["te"]) + (0 if cache_latents else p["vae"])
    unet_bytes = 1 if fp8_base else bpp
    parts: dict[str, float] = {"weights": (frozen_m * bpp + p["unet"] * unet_bytes) * 1e6 / 2**30}
    if fp8_base:
        parts["fp8_widen"] = _WIDEN_SEGMENT_M[fam] * 1e6 * bpp / 2**30

    r = _LORA_PER_RANK_M[fam]
    net = networks.get(network_type)
    conv = conv_dim if net.uses_conv(conv_dim) else 0
    lora_m = net.params_per_rank * (network_dim * r["unet"] + conv * r["conv"]
                                    + (network_dim * r["te"] if train_text_encoder else 0))
    opt = optimizers.find(optimizer)
    state = opt.state_bytes if opt is not None else 8
    parts["lora+optimizer"] = lora_m * 1e6 * (4 + 4 + state) / 2**30

    scale = batch_size * (resolution / _NATIVE_RES[fam]) ** 2
    act = _ACT_GB[fam][1 if gradient_checkpointing else 0] * scale
    if mixed_precision == "no":
        act *= 2
    if train_text_encoder:
        act *= 1.15
    if dora and net.dora:
        act *= _DORA_ACTIVATIONS
    parts["activations"] = act
    if net.weight_copies:
        adapted = _ADAPTED_M[fam]
        weights_m = adapted["conv_types" if net.conv else "lora"] + (adapted["conv"] if conv else 0.0)
        share = _CHECKPOINTED_SHARE if gradient_checkpointing else 1.0
        parts["adapter_delta"] = net.weight_copies * weights_m * 1e6 * 4 / 2**30 * share
    if not cache_latents:
        parts["vae_encode"] = 0.9 * scale * (2 if mixed_precision == "no" else 1)
    subtotal = sum(parts.values())
    parts["overhead"] = _CUDA_OVERHEAD_GB + 0.08 * subtotal
    parts = {k: round(v, 2) for k, v in parts.items()}
    return VramEstimate(round(sum(parts.values()), 1), parts)
