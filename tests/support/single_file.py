"""Write a diffusers SD1.5 / SDXL folder as one original-format (ldm / sgm) checkpoint file.

diffusers only converts the other way (``from_single_file``); this is its inverse, driven by the
configs, so the tiny test pipelines become the kind of ``.safetensors`` file users download from
model sites, and the single-file loading path can be tested offline.
"""

from __future__ import annotations

import re
from pathlib import Path

from tui_lora.core.train.kohya_names import SgmMapper, te_path

_UNET_DIRECT = {
    "conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
    "conv_norm_out": "out.0", "conv_out": "out.2",
}
_RESNET_EXTRA = {"norm1": "in_layers.0", "norm2": "out_layers.0"}


def unet_to_ldm(state: dict, config: dict) -> dict:
    sgm = SgmMapper(config)
    out = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        if module in _UNET_DIRECT:
            name = _UNET_DIRECT[module]
        else:
            m = re.match(r"^(.*\.resnets\.\d+)\.(norm1|norm2)$", module)
            name = f"{sgm(m.group(1) + '.conv1').rsplit('.', 2)[0]}.{_RESNET_EXTRA[m.group(2)]}" if m else sgm(module)
        out[f"model.diffusion_model.{name}.{param}"] = value
    return out


def vae_to_ldm(state: dict, config: dict) -> dict:
    n_up = len(config["up_block_types"])
    out = {}
    for key, value in state.items():
        k = key
        k = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.down.\1.block.\2.", k)
        k = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", k)
        k = re.sub(r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.",
                   lambda m: f"decoder.up.{n_up - 1 - int(m.group(1))}.block.{m.group(2)}.", k)
        k = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
                   lambda m: f"decoder.up.{n_up - 1 - int(m.group(1))}.upsample.", k)
        k = re.sub(r"\.mid_block\.resnets\.(\d+)\.", lambda m: f".mid.block_{int(m.group(1)) + 1}.", k)
        k = k.replace(".mid_block.attentions.0.", ".mid.attn_1.")
        k = k.replace(".conv_shortcut.", ".nin_shortcut.").replace("conv_norm_out", "norm_out")
        if ".mid.attn_1." in k:
            k = (k.replace(".group_norm.", ".norm.").replace(".to_q.", ".q.").replace(".to_k.", ".k.")
                 .replace(".to_v.", ".v.").replace(".to_out.0.", ".proj_out."))
            if value.ndim == 2:
                value = value[:, :, None, None]  # the original VAE attention uses 1×1 convolutions
        out[f"first_stage_model.{k}"] = value
    return out


def clip_to_ldm(state: dict, prefix: str) -> dict:
    return {f"{prefix}{te_path(k)}": v for k, v in state.items() if not k.endswith("position_ids")}


def open_clip_to_ldm(state: dict, prefix: str) -> dict:
    import torch

    out = {}
    qkv: dict[str, dict[str, object]] = {}
    for key, value in state.items():
        k = te_path(key) if not key.startswith("text_projection") else key
        if k.endswith("position_ids"):
            continue
        if k == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
            continue
        k = (k.replace("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
             .replace("text_model.embeddings.position_embedding.weight", "positional_embedding")
             .replace("text_model.final_layer_norm.", "ln_final."))
        m = re.match(r"^text_model\.encoder\.layers\.(\d+)\.(.*)$", k)
        if m:
            layer, rest = m.group(1), m.group(2)
            pm = re.match(r"^self_attn\.(q|k|v)_proj\.(weight|bias)$", rest)
            if pm:
                qkv.setdefault(f"{layer}.{pm.group(2)}", {})[pm.group(1)] = value
                continue
            rest = (rest.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
                    .replace("self_attn.out_proj", "attn.out_proj").replace("mlp.fc1", "mlp.c_fc")
                    .replace("mlp.fc2", "mlp.c_proj"))
            k = f"transformer.resblocks.{layer}.{rest}"
        out[prefix + k] = value
    for name, parts in qkv.items():
        layer, kind = name.split(".")
        out[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def save_single_file(folder: Path, out: Path, *, fp16: bool = False, metadata: dict[str, str] | None = None,
                     extra: dict | None = None) -> Path:
    """Convert the diffusers pipeline in ``folder`` (SD1.5 or SDXL) into one checkpoint file:
    .safetensors, or a pickled ``{"state_dict": …}`` when ``out`` ends in .ckpt / .pt. ``extra`` tensors
    are added as they are (NoobAI-XL v-pred ships empty ``v_pred`` and ``ztsnr`` markers)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    sd = {**unet_to_ldm(unet.state_dict(), dict(unet.config)), **vae_to_ldm(vae.state_dict(), dict(vae.config))}
    te = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    if (folder / "text_encoder_2").is_dir():
        te2 = CLIPTextModelWithProjection.from_pretrained(folder, subfolder="text_encoder_2")
        sd.update(clip_to_ldm(te.state_dict(), "conditioner.embedders.0.transformer."))
        sd.update(open_clip_to_ldm(te2.state_dict(), "conditioner.embedders.1.model."))
    else:
        sd.update(clip_to_ldm(te.state_dict(), "cond_stage_model.transformer."))
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in sd.items()}
    tensors.update(extra or {})
    if Path(out).suffix in (".ckpt", ".pt"):
        torch.save({"state_dict": tensors}, str(out))  # the old pickle format, as .ckpt files are
    else:
        save_file(tensors, str(out), metadata=metadata)
    return Path(out)
