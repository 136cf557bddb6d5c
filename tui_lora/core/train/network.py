"""LoRA / LoCon / LoHa / LoKr (DoRA on the first two) on the modules kohya's networks/lora.py targets,
injected with peft (the adapter per type: :mod:`.adapters`).

Targets (kohya's rules, by module class):
- UNet ``Transformer2DModel``: every Linear and Conv2d inside (attention q/k/v/out, proj_in /
  proj_out, feed-forward) at network_dim / network_alpha.
- Types that train convolutions (LoCon, LoHa, LoKr; ``conv`` in :mod:`tui_lora.core.registry.networks`) add
  ``ResnetBlock2D``, ``Downsample2D``, ``Upsample2D``: their 3×3 convolutions at conv_dim /
  conv_alpha; their Linear and 1×1 children (time_emb_proj, conv_shortcut) at network_dim /
  network_alpha.
- Text encoders: Linear layers of the CLIP attention and MLP blocks (q/k/v/out_proj, fc1/fc2).

An alpha of 0 means "alpha = rank" (no scaling), as in kohya. peft's scale is alpha / rank,
exactly kohya's and LyCORIS's, so the in-training model equals the saved file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_lora.core.registry import networks
from tui_lora.core.train import adapters
from tui_lora.core.train.adapters import ADAPTER

if TYPE_CHECKING:
    import torch

    from tui_lora.core.settings import NetworkSettings

UNET_BLOCKS = ("Transformer2DModel",)
UNET_CONV_BLOCKS = ("ResnetBlock2D", "Downsample2D", "Upsample2D")
TE_BLOCKS_SUFFIX = ("Attention", "MLP")


@dataclass(frozen=True)
class NetworkSpec:
    network_type: str = "lora"  # a name of the network registry
    dim: int = 16
    alpha: float = 8.0
    conv_dim: int = 8
    conv_alpha: float = 4.0
    dora: bool = False  # only for types whose registry entry allows it (lora, locon)
    lokr_factor: int = -1

    @classmethod
    def from_settings(cls, network: NetworkSettings) -> NetworkSpec:
        return cls(network.network_type, network.network_dim, network.network_alpha, network.conv_dim,
                   network.conv_alpha, network.dora, network.lokr_factor)

    @property
    def kind(self) -> networks.NetworkType:
        return networks.get(self.network_type)

    @property
    def effective_alpha(self) -> float:
        return float(self.alpha) if self.alpha > 0 else float(self.dim)

    @property
    def effective_conv_alpha(self) -> float:
        return float(self.conv_alpha) if self.conv_alpha > 0 else float(self.conv_dim)

    @property
    def uses_conv(self) -> bool:
        return networks.get(self.network_type).uses_conv(self.conv_dim)


@dataclass(frozen=True)
class Target:
    path: str  # module path inside its component
    rank: int
    alpha: float
    conv3x3: bool = False


@dataclass
class LoraModule:
    """One trained module: where it lives, its kohya name and its peft layer."""

    component: str  # "unet" | "text_encoder" | "text_encoder_2"
    path: str
    kohya: str
    rank: int
    alpha: float
    module: Any = field(repr=False, default=None)  # the peft layer (LoraLayer, LoHaLayer, LoKrLayer)
    adapter: str = "lora"  # the registry entry's peft adapter

    def params(self) -> dict[str, torch.nn.Parameter]:
        """The trained tensors by name (``down``/``up``[/``magnitude``] or LyCORIS part names)."""
        return adapters.trainable(self.module, self.adapter)

    def file_tensors(self) -> dict[str, torch.Tensor]:
        """``{part: float32 tensor}`` as the LoRA file holds this module (see :mod:`.adapters`)."""
        return adapters.file_tensors(self.adapter, self.params(), rank=self.rank, alpha=self.alpha)

    @property
    def down(self) -> torch.nn.Parameter:
        return self.module.lora_A[ADAPTER].weight

    @property
    def up(self) -> torch.nn.Parameter:
        return self.module.lora_B[ADAPTER].weight


def _is_linear(m) -> bool:
    return type(m).__name__ == "Linear"


def _conv_kernel(m) -> tuple[int, int] | None:
    return tuple(m.kernel_size) if type(m).__name__ == "Conv2d" else None


def unet_targets(unet: torch.nn.Module, spec: NetworkSpec) -> list[Target]:
    blocks = UNET_BLOCKS + (UNET_CONV_BLOCKS if spec.uses_conv else ())
    out: dict[str, Target] = {}
    for name, block in unet.named_modules():
        if type(block).__name__ not in blocks:
            continue
        for child_name, child in block.named_modules():
            kernel = _conv_kernel(child)
            if not (_is_linear(child) or kernel):
                continue
            path = f"{name}.{child_name}"
            if _is_linear(child) or kernel == (1, 1):
                out[path] = Target(path, spec.dim, spec.effective_alpha)
            elif spec.uses_conv:
                out[path] = Target(path, spec.conv_dim, spec.effective_conv_alpha, conv3x3=True)
    return list(out.values())


def text_encoder_targets(text_encoder: torch.nn.Module, spec: NetworkSpec) -> list[Target]:
    out: dict[str, Target] = {}
    for name, block in text_encoder.named_modules():
        cls = type(block).__name__
        if not (cls.startswith("CLIP") and cls.endswith(TE_BLOCKS_SUFFIX)):
            continue
        for child_name, child in block.named_modules():
            if _is_linear(child):
                path = f"{name}.{child_name}"
                out[path] = Target(path, spec.dim, spec.effective_alpha)
    return list(out.values())


def inject(model: torch.nn.Module, targets: list[Target], spec: NetworkSpec | None = None) -> None:
    """Add the peft adapter of ``spec``'s type (LoRA by default) on exactly ``targets`` (ranks and
    alphas per module)."""
    spec = spec or NetworkSpec()
    kind = spec.kind
    if not targets:
        raise ValueError("no LoRA targets")
    base = targets[0]
    odd = [t for t in targets if (t.rank, t.alpha) != (base.rank, base.alpha)]
    rank_pattern, alpha_pattern = {}, {}
    if odd:
        # One alternation per distinct (rank, alpha); peft matches patterns against module paths.
        by_value: dict[tuple[int, float], list[str]] = {}
        for t in odd:
            by_value.setdefault((t.rank, t.alpha), []).append(re.escape(t.path))
        for (rank, alpha), paths in by_value.items():
            pattern = "^(?:" + "|".join(paths) + ")"
            rank_pattern[pattern] = rank
            alpha_pattern[pattern] = alpha
    config = adapters.peft_config(kind.adapter, rank=base.rank, alpha=base.alpha,
                                  target_modules=[t.path for t in targets], rank_pattern=rank_pattern,
                                  alpha_pattern=alpha_pattern, dora=spec.dora and kind.dora,
                                  lokr_factor=spec.lokr_factor)
    adapters.inject_adapter(model, config, kind.adapter)


def collect_modules(model: torch.nn.Module, component: str, targets: list[Target],
                    namer: Callable[[str], str], spec: NetworkSpec | None = None) -> list[LoraModule]:
    """The injected peft layers of ``model`` with their kohya names, checking ranks and scales."""
    adapter = (spec or NetworkSpec()).kind.adapter
    by_path = {t.path: t for t in targets}
    modules = dict(model.named_modules())
    out = []
    for t in targets:
        layer = modules.get(t.path)
        if layer is None or not adapters.is_wrapped(layer, adapter):
            raise RuntimeError(f"peft did not wrap {component}.{t.path}")
        rank = layer.r[ADAPTER]
        scale = layer.scaling[ADAPTER]
        if rank != t.rank or abs(scale - t.alpha / t.rank) > 1e-9:
            raise RuntimeError(f"{component}.{t.path}: rank {rank} / scale {scale} differ from {t.rank} / {t.alpha / t.rank}")
        out.append(LoraModule(component, t.path, namer(t.path), t.rank, by_path[t.path].alpha, layer, adapter))
    return out


def lora_parameters(modules: list[LoraModule]) -> list[torch.nn.Parameter]:
    return [p for m in modules for p in m.params().values()]
