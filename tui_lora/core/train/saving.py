"""Write the LoRA file in kohya's format (DESIGN.md, "The LoRA file").

Keys: ``<kohya name>.lora_down.weight``, ``.lora_up.weight`` and ``.alpha`` (the configured alpha,
never the rank); LyCORIS types their own parts (``.hada_*``, ``.lokr_*``, ``.dora_scale``, see
:mod:`.adapters`). Metadata: kohya's ``ss_*`` keys plus ``sshs_*`` hashes (what webui's
additional-networks reads) and the SAI ``modelspec.*`` keys. The file is written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.fsutil import atomic_open
from tui_lora.core.registry import networks

if TYPE_CHECKING:
    import torch

    from tui_lora.core.settings import Settings
    from tui_lora.core.train.layout import DatasetLayout
    from tui_lora.core.train.network import LoraModule

SAVE_DTYPES = {"float": "float32", "fp16": "float16", "bf16": "bfloat16"}


def kohya_state_dict(modules: list[LoraModule], save_precision: str = "fp16") -> dict[str, torch.Tensor]:
    """{name: tensor} for the LoRA modules (``network.LoraModule``), cast to ``save_precision``."""
    import torch

    dtype = getattr(torch, SAVE_DTYPES[save_precision])
    out: dict[str, torch.Tensor] = {}
    for m in modules:
        for part, tensor in m.file_tensors().items():
            if part == "alpha":
                out[f"{m.kohya}.alpha"] = torch.tensor(float(tensor.item()), dtype=dtype)
            else:
                out[f"{m.kohya}.{part}"] = tensor.to(dtype).contiguous()
    return out


def addnet_hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """kohya's ``sshs_model_hash`` / ``sshs_legacy_hash``: hashes of the file as saved with only the
    ``ss_*`` metadata (sd-webui-additional-networks indexes LoRAs by them)."""
    from safetensors.torch import save

    data = save(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    n = int.from_bytes(data[:8], "little")
    model_hash = hashlib.sha256(data[8 + n:]).hexdigest()
    buf = io.BytesIO(data)
    buf.seek(0x100000)
    legacy = hashlib.sha256(buf.read(0x10000)).hexdigest()[:8]
    return model_hash, legacy


def save_lora(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write ``tensors`` with ``metadata`` to ``path`` atomically (the old file survives a crash)."""
    from safetensors.torch import save

    meta = {str(k): str(v) for k, v in metadata.items()}
    model_hash, legacy = addnet_hashes(tensors, meta)
    meta["sshs_model_hash"] = model_hash
    meta["sshs_legacy_hash"] = legacy
    data = save(tensors, meta)
    with atomic_open(path, "wb") as fh:
        fh.write(data)
        # The temporary file is private (0600); a LoRA is meant to be shared with webui / ComfyUI.
        os.fchmod(fh.fileno(), 0o666 & ~_umask())
    return path


def _umask() -> int:
    """The process umask without changing it (os.umask would, briefly, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _b(v: bool) -> str:
    return "True" if v else "False"


def build_metadata(*, settings: Settings, family: str, v_prediction: bool, model_name: str,
                   vae_name: str, output_name: str, layout: DatasetLayout, tag_frequency: dict[str, dict[str, int]],
                   steps_per_epoch: int, total_steps: int, epochs: int, warmup_steps: int,
                   optimizer_desc: str, mixed_precision: str, train_unet: bool, train_text_encoder: bool,
                   session_id: int, started_at: float, global_batch: int, trigger_word: str) -> dict[str, str]:
    """Everything but the per-save keys (ss_epoch, ss_steps, ss_training_finished_at, modelspec.date)."""
    d, n, t = settings.dataset, settings.network, settings.training
    res = d.resolution
    dataset_dirs = {}
    reg_dirs = {}
    counts: dict[tuple[str, bool], list[int]] = {}
    for e in layout.entries:
        c = counts.setdefault((e.folder, e.is_reg), [e.folder_repeats, 0])
        c[1] += 1
    for (folder, is_reg), (repeats, images) in counts.items():
        (reg_dirs if is_reg else dataset_dirs)[folder] = {"n_repeats": repeats, "img_count": images}
    network = networks.get(n.network_type)
    network_args = network.network_args(conv_dim=n.conv_dim, conv_alpha=n.conv_alpha, dora=n.dora,
                                        factor=n.lokr_factor)
    meta: dict[str, Any] = {
        "ss_session_id": session_id,
        "ss_training_started_at": started_at,
        "ss_output_name": output_name,
        "ss_learning_rate": t.unet_lr,
        "ss_unet_lr": t.unet_lr if train_unet else 0.0,
        "ss_text_encoder_lr": t.text_encoder_lr if train_text_encoder else 0.0,
        "ss_num_train_images": layout.train_samples,
        "ss_num_reg_images": layout.reg_samples,
        "ss_num_batches_per_epoch": steps_per_epoch,
        "ss_num_epochs": epochs,
        "ss_gradient_checkpointing": _b(t.gradient_checkpointing),
        "ss_gradient_accumulation_steps": 1,
        "ss_max_train_steps": total_steps,
        "ss_lr_warmup_steps": warmup_steps,
        "ss_lr_scheduler": t.lr_scheduler,
        "ss_network_module": network.module_name(n.dora),
        "ss_network_dim": n.network_dim,
        "ss_network_alpha": _num(n.network_alpha if n.network_alpha > 0 else n.network_dim),
        "ss_network_dropout": "None",
        "ss_mixed_precision": mixed_precision,
        "ss_full_fp16": "False",
        "ss_v2": "False",
        "ss_base_model_version": "sdxl_base_v1-0" if family == "sdxl" else "sd_v1",
        "ss_clip_skip": t.clip_skip if family == "sd15" else "None",
        "ss_max_token_length": t.max_token_length,
        "ss_cache_latents": _b(d.cache_latents),
        "ss_seed": t.seed,
        "ss_lowram": "False",
        "ss_noise_offset": _num(t.noise_offset) if t.noise_offset else "None",
        "ss_multires_noise_iterations": t.multires_noise_iterations or "None",
        "ss_multires_noise_discount": _num(t.multires_noise_discount),
        "ss_adaptive_noise_scale": "None",
        "ss_zero_terminal_snr": _b(settings.model.zero_terminal_snr),
        "ss_training_comment": f"trained with tui-lora; trigger word: {trigger_word}" if trigger_word else "trained with tui-lora",
        "ss_optimizer": optimizer_desc,
        "ss_max_grad_norm": _num(t.max_grad_norm),
        "ss_caption_dropout_rate": _num(d.caption_dropout_rate),
        "ss_caption_dropout_every_n_epochs": 0,
        "ss_caption_tag_dropout_rate": 0.0,
        "ss_face_crop_aug_range": "None",
        "ss_prior_loss_weight": _num(d.prior_loss_weight),
        "ss_min_snr_gamma": _num(t.min_snr_gamma) if t.min_snr_gamma else "None",
        "ss_scale_weight_norms": "None",
        "ss_ip_noise_gamma": _num(t.ip_noise_gamma) if t.ip_noise_gamma else "None",
        "ss_debiased_estimation": _b(t.debiased_estimation_loss),
        "ss_loss_type": t.loss_type,
        "ss_huber_schedule": t.huber_schedule,
        "ss_huber_scale": _num(t.huber_scale),
        "ss_huber_c": _num(t.huber_c),
        "ss_batch_size_per_device": t.train_batch_size,
        "ss_total_batch_size": global_batch,
        "ss_resolution": f"({res}, {res})",
        "ss_color_aug": "False",
        "ss_flip_aug": _b(d.flip_aug),
        "ss_random_crop": "False",
        "ss_shuffle_caption": _b(d.shuffle_caption),
        "ss_enable_bucket": _b(d.enable_bucket),
        "ss_bucket_no_upscale": _b(d.bucket_no_upscale),
        "ss_min_bucket_reso": d.min_bucket_reso,
        "ss_max_bucket_reso": d.max_bucket_reso,
        "ss_keep_tokens": d.keep_tokens,
        "ss_dataset_dirs": json.dumps(dataset_dirs),
        "ss_reg_dataset_dirs": json.dumps(reg_dirs),
        "ss_tag_frequency": json.dumps(tag_frequency, ensure_ascii=False),
        "ss_bucket_info": json.dumps(layout.bucket_info()),
        "ss_sd_model_name": model_name,
    }
    if network_args:
        meta["ss_network_args"] = json.dumps(network_args)
    if vae_name:
        meta["ss_vae_name"] = vae_name
    meta.update({
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": ("stable-diffusion-xl-v1-base" if family == "sdxl" else "stable-diffusion-v1") + "/lora",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models" if family == "sdxl" else "diffusers",
        "modelspec.title": output_name,
        "modelspec.resolution": f"{res}x{res}",
        "modelspec.prediction_type": "v" if v_prediction else "epsilon",
        "modelspec.implementation_version": "tui-lora",
    })
    if family == "sd15" and t.clip_skip > 1:
        meta["modelspec.encoder_layer"] = str(t.clip_skip)
    if trigger_word:
        meta["modelspec.trigger_phrase"] = trigger_word
    return {k: str(v) for k, v in meta.items()}


def per_save_metadata(base: dict[str, str], *, epoch: int, step: int, finished_at: float) -> dict[str, str]:
    import datetime

    meta = dict(base)
    meta["ss_epoch"] = str(epoch)
    meta["ss_steps"] = str(step)
    meta["ss_training_finished_at"] = str(finished_at)
    meta["modelspec.date"] = datetime.datetime.fromtimestamp(int(finished_at)).isoformat()
    return meta


def _num(x: float) -> str:
    return str(float(x))
