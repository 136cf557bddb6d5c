"""Network types (``network.network_type``): what is trained, and how the file says so.

Adding a type is one :class:`NetworkType` entry in :data:`NETWORKS` plus its code: the modules it
injects (:mod:`tui_lora.core.train.network` picks the layers by :attr:`conv` and builds the peft
adapter named by :attr:`adapter`, :mod:`tui_lora.core.train.adapters` reads its tensors back as file
keys) and how a merged file is applied (:mod:`tui_lora.core.compare.merge`). The planner reads
:attr:`params_per_rank`, :attr:`conv` and :attr:`weight_copies` for its VRAM estimate, the file's
metadata :meth:`module_name` and :meth:`network_args`.

LoHa and LoKr are LyCORIS's types; their files carry LyCORIS's keys (``.hada_*``, ``.lokr_*``) and
load in ComfyUI, A1111 / Forge and LyCORIS. DoRA (``network.dora``) is a switch on lora / locon:
the same files plus a ``.dora_scale`` per module.
"""

from __future__ import annotations

from typing import NamedTuple

from tui_lora.core.errors import ConfigError, Fix

LYCORIS = "lycoris.kohya"  # ss_network_module of every LyCORIS run (sd-scripts writes --network_module)


class NetworkType(NamedTuple):
    name: str
    help: str
    # Also trains the 3×3 convolutions of the ResNet, down- and up-sample blocks (at conv_dim / conv_alpha).
    conv: bool = False
    settings: tuple[str, ...] = ("network_dim", "network_alpha")  # the [network] keys it reads
    # Trainable parameters per unit of rank, relative to LoRA's down + up pair (the planner's VRAM estimate).
    params_per_rank: float = 1.0
    module: str = "networks.lora"  # ss_network_module, as kohya / LyCORIS write it
    algo: str = ""  # ss_network_args' "algo" for LyCORIS types
    adapter: str = "lora"  # the peft adapter: "lora" (LoraConfig), "loha" (LoHaConfig), "lokr" (LoKrConfig)
    dora: bool = False  # network.dora may turn on weight decomposition (peft's use_dora)
    # Weight-sized float32 tensors each adapted layer keeps for the backward pass: peft applies LoHa and LoKr
    # as F.linear(x, ΔW) with ΔW built in full every step. The planner adds them to the activations.
    weight_copies: float = 0.0

    def uses_conv(self, conv_dim: int) -> bool:
        """True when the 3×3 convolutions train (a conv_dim of 0 turns them off)."""
        return self.conv and conv_dim > 0

    def module_name(self, dora: bool = False) -> str:
        """``ss_network_module``: kohya's own networks.lora has no DoRA, so a DoRA run is a LyCORIS run."""
        return LYCORIS if dora and self.dora else self.module

    def network_args(self, *, conv_dim: int, conv_alpha: float, dora: bool = False,
                     factor: int = -1) -> dict[str, str | None]:
        """``ss_network_args`` as sd-scripts writes them: the ``--network_args`` strings (empty for
        plain LoRA), plus ``dropout`` for LyCORIS runs."""
        args: dict[str, str | None] = {}
        lycoris = self.module_name(dora) == LYCORIS
        if self.uses_conv(conv_dim):
            args["conv_dim"] = str(conv_dim)
            args["conv_alpha"] = str(float(conv_alpha))
        elif lycoris:
            # LyCORIS trains convolutions unless its preset leaves them out (it reads conv_dim 0 as "= dim").
            args["preset"] = "attn-mlp"
        if self.algo or lycoris:
            args["algo"] = self.algo or self.name
        if self.adapter == "lokr":
            args["factor"] = str(factor)
        if dora and self.dora:
            args["dora_wd"] = "True"
            args["wd_on_output"] = "True"  # peft's magnitude is per output row; LyCORIS's default since 2025-04
        if lycoris:
            args["dropout"] = None
        return args


_CONV = ("network_dim", "network_alpha", "conv_dim", "conv_alpha")

NETWORKS: dict[str, NetworkType] = {n.name: n for n in (
    NetworkType("lora", "LoRA on the attention and feed-forward layers (kohya's networks.lora): enough for "
                        "a character. network.dora adds DoRA's magnitude per output row: finer detail at the same dim.",
                settings=("network_dim", "network_alpha", "dora"), dora=True),
    NetworkType("locon", "LoRA plus the convolutions of the ResNet blocks (at conv_dim / conv_alpha): helps "
                         "styles and textures. network.dora adds DoRA.",
                conv=True, settings=(*_CONV, "dora"), dora=True),
    # LoHa: ΔW = (w1a·w1b) ⊙ (w2a·w2b), two LoRA pairs multiplied element-wise: rank r reaches up to r², so a
    # small dim carries a style; twice LoRA's parameters at the same dim.
    NetworkType("loha", "LyCORIS LoHa (Hadamard product of two low-rank pairs) on the same layers as LoCon: "
                        "high capacity per file size, good for styles; keep dim at 32 or below (alpha 1 to dim/2).",
                conv=True, settings=_CONV, params_per_rank=2.0, module=LYCORIS, algo="loha", adapter="loha",
                weight_copies=1.0),
    # LoKr: ΔW = w1 ⊗ w2 with w1 a small full matrix and w2 low-rank; parameters barely grow with the layer,
    # so files are a few MB. About a tenth of LoRA's parameters at the same dim on SD layers (auto factor).
    NetworkType("lokr", "LyCORIS LoKr (Kronecker product of a small full matrix and a low-rank one) on the same "
                        "layers as LoCon: the smallest files; network.lokr_factor sizes the small matrix.",
                conv=True, settings=(*_CONV, "lokr_factor"), params_per_rank=0.1, module=LYCORIS, algo="lokr",
                adapter="lokr", weight_copies=1.0),
)}
NAMES: tuple[str, ...] = tuple(NETWORKS)


def get(name: str) -> NetworkType:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ConfigError(f"network.network_type {name!r} is unknown",
                          Fix(f"choose one of {', '.join(NAMES)}")) from None
