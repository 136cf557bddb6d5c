"""Network types (``network.network_type``): what is trained, and how the file says so.

Adding a type (LoHa, LoKr, DoRA …) is one :class:`NetworkType` entry in :data:`NETWORKS` plus its
code: the modules it injects (:mod:`tui_lora.core.train.network` picks the layers by :attr:`conv`)
and the tensors it saves (:mod:`tui_lora.core.train.saving`). The planner reads
:attr:`params_per_rank` and :attr:`conv` for its VRAM estimate, the file's metadata
:attr:`module` and :meth:`network_args`.
"""

from __future__ import annotations

from typing import NamedTuple

from tui_lora.core.errors import ConfigError, Fix


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

    def uses_conv(self, conv_dim: int) -> bool:
        """True when the 3×3 convolutions train (a conv_dim of 0 turns them off)."""
        return self.conv and conv_dim > 0

    def network_args(self, *, conv_dim: int, conv_alpha: float) -> dict[str, str]:
        """``ss_network_args`` for the file (empty for plain LoRA)."""
        args: dict[str, str] = {}
        if self.uses_conv(conv_dim):
            args["conv_dim"] = str(conv_dim)
            args["conv_alpha"] = str(float(conv_alpha))
        if self.algo:
            args["algo"] = self.algo
        return args


_CONV = ("network_dim", "network_alpha", "conv_dim", "conv_alpha")

NETWORKS: dict[str, NetworkType] = {n.name: n for n in (
    NetworkType("lora", "LoRA on the attention and feed-forward layers (kohya's networks.lora): enough for "
                        "a character."),
    NetworkType("locon", "LoRA plus the convolutions of the ResNet blocks (at conv_dim / conv_alpha): helps "
                         "styles and textures.", conv=True, settings=_CONV),
)}
NAMES: tuple[str, ...] = tuple(NETWORKS)


def get(name: str) -> NetworkType:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ConfigError(f"network.network_type {name!r} is unknown",
                          Fix(f"choose one of {', '.join(NAMES)}")) from None
