"""Module names in kohya's LoRA files, from diffusers module paths. Pure Python.

- SD1.x UNet: kohya trains on a UNet with diffusers' names, so ``down_blocks.0.attentions.0.proj_in``
  becomes ``lora_unet_down_blocks_0_attentions_0_proj_in``.
- SDXL UNet: kohya trains on the original (SGM) UNet, so its files name the SGM modules:
  ``input_blocks_4_1_…``, ``middle_block_1_…``, ``output_blocks_2_2_conv`` and, inside ResNet
  blocks, ``in_layers_2`` / ``out_layers_3`` / ``emb_layers_1`` / ``skip_connection``. The block
  numbers are computed from the UNet config (levels and layers per block), so the tiny test
  SDXL maps exactly as the real one does.
- Text encoders: ``lora_te_`` (SD1.x), ``lora_te1_`` / ``lora_te2_`` (SDXL) + the transformers path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

Namer = Callable[[str], str]  # a diffusers module path → its kohya LoRA module name

_RESNET_SGM = {"conv1": "in_layers.2", "conv2": "out_layers.3", "time_emb_proj": "emb_layers.1",
               "conv_shortcut": "skip_connection"}


def te_prefix(family: str, index: int) -> str:
    """``lora_te`` for SD1.x; ``lora_te1`` / ``lora_te2`` for SDXL's two text encoders."""
    if family == "sdxl":
        return f"lora_te{index + 1}"
    return "lora_te"


def kohya_name(prefix: str, path: str) -> str:
    return f"{prefix}_{path.replace('.', '_')}"


def te_path(path: str) -> str:
    """The transformers-4 module path kohya's names are built from.

    transformers 5 flattened ``CLIPTextModel`` (``encoder.layers.0…``) while
    ``CLIPTextModelWithProjection`` keeps ``text_model.encoder…``; kohya, webui and ComfyUI all
    expect ``lora_te_text_model_encoder_layers_0_…``, so the prefix is put back.
    """
    return path if path.startswith("text_model.") else f"text_model.{path}"


def te_namer(family: str, index: int) -> Namer:
    prefix = te_prefix(family, index)
    return lambda path: kohya_name(prefix, te_path(path))


def _per_level(value: Any, levels: int) -> list[int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [int(v) for v in value]
    return [int(value)] * levels


class SgmMapper:
    """diffusers UNet2DConditionModel module path → SGM (ldm) module path, from the config."""

    def __init__(self, unet_config: dict[str, Any]) -> None:
        down = list(unet_config["down_block_types"])
        up = list(unet_config["up_block_types"])
        layers = _per_level(unet_config.get("layers_per_block", 2), len(down))
        self.down_index: dict[tuple[int, int], int] = {}
        self.downsampler_index: dict[int, int] = {}
        n = 1  # input_blocks.0 is conv_in
        for i in range(len(down)):
            for j in range(layers[i]):
                self.down_index[(i, j)] = n
                n += 1
            if i < len(down) - 1:
                self.downsampler_index[i] = n
                n += 1
        self.up_index: dict[tuple[int, int], int] = {}
        self.upsampler_slot: dict[int, tuple[int, int]] = {}
        rev = list(reversed(layers))
        n = 0
        for i in range(len(up)):
            for j in range(rev[i] + 1):
                self.up_index[(i, j)] = n
                n += 1
            if i < len(up) - 1:
                # The upsampler sits in the level's last layer, after the ResNet (and attention).
                self.upsampler_slot[i] = (n - 1, 2 if "CrossAttn" in up[i] else 1)

    def __call__(self, path: str) -> str:
        m = re.match(r"^(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)(?:\.(.*))?$", path)
        if m:
            kind, i, sub, j, rest = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5) or ""
            if kind == "down_blocks":
                if sub == "downsamplers":
                    return _join(f"input_blocks.{self.downsampler_index[i]}.0", "op" if rest == "conv" else rest)
                block = self.down_index[(i, j)]
                return _join(f"input_blocks.{block}.{0 if sub == 'resnets' else 1}", _inner(sub, rest))
            if sub == "upsamplers":
                block, slot = self.upsampler_slot[i]
                return _join(f"output_blocks.{block}.{slot}", rest)
            block = self.up_index[(i, j)]
            return _join(f"output_blocks.{block}.{0 if sub == 'resnets' else 1}", _inner(sub, rest))
        m = re.match(r"^mid_block\.(resnets|attentions)\.(\d+)(?:\.(.*))?$", path)
        if m:
            sub, j, rest = m.group(1), int(m.group(2)), m.group(3) or ""
            slot = {("resnets", 0): 0, ("attentions", 0): 1, ("resnets", 1): 2}[(sub, j)]
            return _join(f"middle_block.{slot}", _inner(sub, rest))
        raise ValueError(f"no SGM name for UNet module {path!r}")


def _inner(sub: str, rest: str) -> str:
    if sub == "resnets":
        return _RESNET_SGM.get(rest, rest)
    return rest


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if b else a


def unet_namer(family: str, unet_config: dict[str, Any]) -> Namer:
    """A function: diffusers UNet module path → kohya LoRA module name (without suffix)."""
    if family == "sdxl":
        sgm = SgmMapper(unet_config)
        return lambda path: kohya_name("lora_unet", sgm(path))
    return lambda path: kohya_name("lora_unet", path)
