"""Everything a run needs before its first step: device and precision, the base model, the
network, the dataset with its caches, the optimizer and schedule, the file metadata. The device
and memory helpers it uses are in :mod:`.device`."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.errors import ChangeSetting, Fix, Notice, RunAction, UserError
from tui_lora.core.plan import epochs_and_steps
from tui_lora.core.registry import networks, schedulers
from tui_lora.core.settings import Settings, TrainingSettings
from tui_lora.core.speed import describe_changes, low_vram_changes
from tui_lora.core.train import data as D
from tui_lora.core.train.device import DTYPES, free_gpu_memory, make_accelerator, place, quiet_libraries, resolve_device
from tui_lora.core.train.kohya_names import te_namer, unet_namer
from tui_lora.core.train.layout import DatasetLayout, project_layout
from tui_lora.core.train.network import (
    LoraModule,
    NetworkSpec,
    collect_modules,
    inject,
    lora_parameters,
    text_encoder_targets,
    unet_targets,
)
from tui_lora.core.train.noise import all_snr, training_scheduler, warmup_steps
from tui_lora.core.train.progress import Reporter

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator
    from diffusers import AutoencoderKL, DDPMScheduler

    from tui_lora.core.project import Project
    from tui_lora.core.train.latents import LatentCache, LatentShare
    from tui_lora.core.train.model import BaseModel
    from tui_lora.core.train.text import TextEncoding

    # A caption's cached text-encoder outputs: (hidden states, pooled output or None for SD1.x).
    CachedText = tuple[torch.Tensor, torch.Tensor | None]


@dataclass
class Setup:
    project: Project
    settings: Settings  # the run's effective settings (family and v-prediction as detected)
    base: BaseModel
    family: str
    v_prediction: bool
    device: torch.device
    device_label: str
    accelerator: Accelerator
    mixed_precision: str  # what runs: "no" on the CPU whatever training.mixed_precision says
    weight_dtype: torch.dtype
    unet: torch.nn.Module  # the UNet2DConditionModel, wrapped by DDP under --gpus N
    vae: AutoencoderKL
    vae_dtype: torch.dtype
    scaling_factor: float
    text: TextEncoding
    modules: list[LoraModule]
    params: list[torch.nn.Parameter]
    train_unet: bool
    train_text_encoder: bool
    optimizer: torch.optim.Optimizer
    optimizer_desc: str
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler
    noise_scheduler: DDPMScheduler
    snr_table: torch.Tensor
    layout: DatasetLayout
    captions: list[str]
    caption_opts: D.CaptionOptions
    latent_cache: LatentCache | None
    te_cache: dict[str, CachedText] | None
    seed: int
    global_batch: int
    steps_per_epoch: int
    epochs: int
    total_steps: int
    warmup: int
    prior_loss_weight: float
    metadata: dict[str, str]

    @property
    def t(self) -> TrainingSettings:
        """The run's [training] section, the one the loop reads most."""
        return self.settings.training


def check_dataset(layout: DatasetLayout, project: Project) -> None:
    if layout.train_images == 0:
        extra = f" ({len(layout.unreadable)} files could not be read as images)" if layout.unreadable else ""
        raise UserError(f"The dataset has no images{extra}",
                        Fix("fetch some with {} or copy 15-50 images into dataset/<N>_<name>/",
                            RunAction("fetch", str(project.root))))


def build_setup(project: Project, settings: Settings, reporter: Reporter, *, cancel: threading.Event,
                base_model: BaseModel | None = None, device: str | None = None,
                latents: LatentShare | None = None) -> Setup:
    """``base_model`` and ``latents``: what an earlier run in this process loaded and cached (a sweep)."""
    low_vram = low_vram_changes(settings)  # what training.low_vram / fp8_base turn on, for this run
    settings = settings.with_values(low_vram) if low_vram else settings
    t, d, n, m = settings.training, settings.dataset, settings.network, settings.model
    # Cheap checks first: a wrong dataset or setting fails in a second, before torch is imported.
    layout = project_layout(project, d)
    check_dataset(layout, project)
    if t.noise_offset and t.multires_noise_iterations:
        raise UserError("training.noise_offset and training.multires_noise_iterations cannot both be on (kohya "
                        "forbids it too)", Fix("set one of them to 0"))
    if n.dora and not networks.get(n.network_type).dora:
        raise UserError(f"network.dora works with lora and locon, not {n.network_type}",
                        Fix("{} or {}", ChangeSetting("network.dora", "false"),
                            ChangeSetting("network.network_type", '"locon"')))
    if t.unet_lr <= 0 and (n.network_train_unet_only or t.text_encoder_lr <= 0):
        raise UserError("Every learning rate is 0, so nothing would train",
                        Fix("{} (e.g. 5e-4 for SD1.5, 2e-4 for SDXL)", ChangeSetting("training.unet_lr")))
    for p in layout.unreadable:
        reporter.warning(f"{p.name} is not a readable image; it is skipped.", once=str(p))

    import numpy as np
    import torch

    from tui_lora.core.train import levers
    from tui_lora.core.train.model import load_base_model
    from tui_lora.core.train.optim import build_optimizer, build_scheduler
    from tui_lora.core.train.saving import build_metadata
    from tui_lora.core.train.text import TextEncoding

    quiet_libraries()
    if low_vram:
        reporter.line(f"{'low_vram' if t.low_vram else 'fp8_base'}: {describe_changes(low_vram)}")
    dev = resolve_device(device, reporter.warning)
    mp = t.mixed_precision
    if dev == "cpu" and mp == "fp16":
        reporter.warning("fp16 mixed precision needs a CUDA GPU; training on the CPU in full precision (fp32).")
        mp = "no"
    weight_dtype = getattr(torch, DTYPES[mp])
    accelerator = make_accelerator(mp, cpu=dev == "cpu",
                               find_unused=not n.network_train_unet_only and t.text_encoder_lr > 0)
    device_t = accelerator.device
    levers.set_tf32(device_t.type, t.allow_tf32)

    # ----- model ---------------------------------------------------------------------------
    base = base_model or load_base_model(
        m.pretrained_model_name_or_path, vae=m.vae, allow_pickle=m.allow_pickle, dtype=weight_dtype,
        log=reporter.line, warn=reporter.warning)
    family = base.family
    if family != settings.project.family:
        reporter.warning(f"The base model is {'SDXL' if family == 'sdxl' else 'SD1.x'}, not what project.family said; "
                         f"project.toml now says family = \"{family}\".")
        _update_project(project, "project.family", family)
        settings = settings.with_values({"project.family": family})
    v_pred = bool(m.v_parameterization or base.v_prediction)
    if base.v_prediction and not m.v_parameterization:
        reporter.warning("The base model predicts v (v-prediction); training with v-prediction targets and "
                         "project.toml now says v_parameterization = true.")
        _update_project(project, "model.v_parameterization", True)
        settings = settings.with_values({"model.v_parameterization": True})
    ztsnr = bool(m.zero_terminal_snr or base.zero_terminal_snr)
    if base.zero_terminal_snr and not m.zero_terminal_snr:
        reporter.warning("The base model was trained with zero terminal SNR; training on its rescaled noise schedule "
                         "and project.toml now says zero_terminal_snr = true.")
        _update_project(project, "model.zero_terminal_snr", True)
        settings = settings.with_values({"model.zero_terminal_snr": True})
    if ztsnr and not v_pred:
        reporter.warning(Notice("model.zero_terminal_snr is on without v-prediction: the last timestep is pure noise, "
                                "which an epsilon model cannot denoise",
                                Fix("{} for a v-prediction model", ChangeSetting("model.v_parameterization", "true"))))

    unet, vae, tes = base.unet, base.vae, base.text_encoders
    for mod in [unet, vae, *tes]:
        mod.requires_grad_(False)
    place(unet, device_t, weight_dtype)

    # ----- network -------------------------------------------------------------------------
    spec = NetworkSpec.from_settings(n)
    train_unet = t.unet_lr > 0
    train_te = not n.network_train_unet_only and t.text_encoder_lr > 0
    torch.manual_seed(t.seed)
    random.seed(t.seed)
    np.random.seed(t.seed % 2**32)
    modules, groups = [], []
    if train_unet:
        targets = unet_targets(unet, spec)
        inject(unet, targets, spec)
        um = collect_modules(unet, "unet", targets, unet_namer(family, dict(unet.config)), spec)
        modules += um
        groups.append({"params": lora_parameters(um), "lr": t.unet_lr})
    te_params = []
    for i, te in enumerate(tes):
        place(te, device_t, weight_dtype)
        if train_te:
            targets = text_encoder_targets(te, spec)
            inject(te, targets, spec)
            tm = collect_modules(te, ["text_encoder", "text_encoder_2"][i], targets, te_namer(family, i), spec)
            modules += tm
            te_params += lora_parameters(tm)
    if te_params:
        groups.append({"params": te_params, "lr": t.text_encoder_lr})
    params = [p for g in groups for p in g["params"]]
    for p in params:
        p.data = p.data.to(torch.float32)
        p.requires_grad_(True)
    if t.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
        if train_te:
            for te in tes:
                te.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if t.channels_last:
        levers.to_channels_last(unet, vae)
    if t.fp8_base:
        from tui_lora.core.train.lowbit import device_format, store_8bit

        fmt = device_format(device_t)
        before, after = store_8bit(unet, fmt, weight_dtype)
        reporter.line(f"fp8_base: the UNet's weights are stored in {fmt} "
                      f"({before / 2**30:.2f} → {after / 2**30:.2f} GiB)")
    if t.torch_compile == "blocks":
        levers.compile_blocks(unet, log=reporter.line)
    unet.train()
    for te in tes:
        te.train(train_te)

    # ----- data ----------------------------------------------------------------------------
    captions, missing = D.load_captions(layout, d.caption_extension, settings.project.trigger_word)
    for text, paths in missing.items():
        more = f" and {len(paths) - 1} more" if len(paths) > 1 else ""
        reporter.warning(Notice(f"{paths[0].name}{more} have no caption file ({d.caption_extension}); they train "
                                f"with the caption \"{text}\"",
                                Fix("tag them with {} for a better LoRA", RunAction("tag", str(project.root)))))
    caption_opts = D.CaptionOptions.from_settings(d)
    vae_dtype = torch.float32 if (mp == "no" or vae.config.get("force_upcast", False)) else weight_dtype
    place(vae, device_t, vae_dtype)
    vae.eval()
    latent_cache = None
    if d.cache_latents:
        from tui_lora.core.train.latents import LatentCache

        disk = project.cache_dir / "latents" if d.cache_latents_to_disk else None
        latent_cache = LatentCache(vae, device=device_t, dtype=vae_dtype, disk_dir=disk, flip=d.flip_aug)
        shared = key = None
        if latents is not None:
            from tui_lora.core.train.latents import latent_key

            key = latent_key(layout, flip=d.flip_aug, vae_fingerprint=latent_cache.fingerprint, dtype=vae_dtype)
            shared = latents.take(key)
        if shared is not None:
            reporter.line(f"reusing the cached latents of {len(layout.entries)} images")
            latent_cache, bad = shared
        else:
            reporter.line(f"caching latents of {len(layout.entries)} images")
            bad = latent_cache.build(layout.entries, layout.placements, batch_size=max(1, t.train_batch_size),
                                     cancelled=cancel.is_set)
            if cancel.is_set():
                raise KeyboardInterrupt
            if latents is not None and key is not None:
                latents.keep(key, latent_cache, bad)
        if bad:
            for i in bad:
                reporter.warning(f"{layout.entries[i].path.name} cannot be read (corrupt or truncated); it is skipped.",
                                 once=str(layout.entries[i].path))
            layout, captions = _drop(layout, captions, latent_cache, set(bad))
            check_dataset(layout, project)
        vae.to("cpu")  # the VAE leaves the GPU; sampling (issue #9) brings it back when needed
        free_gpu_memory(dev)

    text = TextEncoding(family, base.tokenizers, tes, clip_skip=t.clip_skip if family == "sd15" else 1,
                        max_token_length=t.max_token_length)
    te_cache = None
    if d.cache_text_encoder_outputs:
        if train_te:
            reporter.warning("dataset.cache_text_encoder_outputs is ignored while the text encoders train.")
        elif caption_opts.varies_per_step:
            reporter.warning("dataset.cache_text_encoder_outputs is ignored: shuffle_caption or caption_dropout_rate "
                             "changes the captions every step; turn those off to cache.")
        else:
            te_cache = _encode_all(text, captions, accelerator, weight_dtype)
            for te in tes:
                te.to("cpu")
            free_gpu_memory(dev)
    if device_t.type == "cuda":
        levers.pin_caches(latent_cache, te_cache)

    # ----- schedule --------------------------------------------------------------------------
    global_batch = t.train_batch_size * accelerator.num_processes
    spe = layout.steps_per_epoch(global_batch)
    epochs, total = epochs_and_steps(spe, t.max_train_epochs, t.max_train_steps)
    warm = warmup_steps(total, t.lr_warmup_ratio, t.lr_warmup_steps)
    if warm and not schedulers.SCHEDULERS[t.lr_scheduler].warmup:
        reporter.warning(f"The {t.lr_scheduler} scheduler ignores warmup; use constant_with_warmup to warm up.")
    optimizer, opt_desc = build_optimizer(t.optimizer_type, groups, t.optimizer_args,
                                          device_type=device_t.type, warn=reporter.warning, fused=t.fused_optimizer)
    lr_scheduler = build_scheduler(t.lr_scheduler, optimizer, total_steps=total, warmup_steps=warm,
                                   num_cycles=t.lr_scheduler_num_cycles, power=t.lr_scheduler_power)
    prepared = accelerator.prepare(unet, *(tes if train_te else []), optimizer)
    unet, optimizer = prepared[0], prepared[-1]
    if train_te:
        text.text_encoders = list(prepared[1:-1])  # the wrapped ones, so gradients sync under DDP
    noise_scheduler = training_scheduler(base.scheduler_config, v_pred, ztsnr)
    # kohya takes the SNR of the schedule before the zero-terminal-SNR rescale (core/train/loss.py).
    snr_table = all_snr(training_scheduler(base.scheduler_config, v_pred).alphas_cumprod if ztsnr
                        else noise_scheduler.alphas_cumprod).to(device_t)  # indexed on the device every step

    metadata = build_metadata(
        settings=settings, family=family, v_prediction=v_pred, model_name=base.name,
        vae_name=Path(m.vae).name if m.vae else "", output_name=project.output_name, layout=layout,
        tag_frequency=D.folder_tag_frequency(layout, captions), steps_per_epoch=spe, total_steps=total,
        epochs=epochs, warmup_steps=warm, optimizer_desc=opt_desc, mixed_precision=mp, train_unet=train_unet,
        train_text_encoder=train_te, session_id=random.Random(time.time_ns()).randrange(2**31),
        started_at=time.time(), global_batch=global_batch, trigger_word=settings.project.trigger_word)
    label = dev if dev == "cpu" else f"{dev} ({torch.cuda.get_device_name(device_t)})" if dev.startswith("cuda") else dev
    return Setup(
        project=project, settings=settings, base=base, family=family, v_prediction=v_pred, device=device_t,
        device_label=label, accelerator=accelerator, mixed_precision=mp, weight_dtype=weight_dtype, unet=unet,
        vae=vae, vae_dtype=vae_dtype, scaling_factor=float(vae.config.scaling_factor), text=text, modules=modules,
        params=params, train_unet=train_unet, train_text_encoder=train_te, optimizer=optimizer,
        optimizer_desc=opt_desc, lr_scheduler=lr_scheduler, noise_scheduler=noise_scheduler, snr_table=snr_table,
        layout=layout, captions=captions, caption_opts=caption_opts, latent_cache=latent_cache, te_cache=te_cache,
        seed=t.seed, global_batch=global_batch, steps_per_epoch=spe, epochs=epochs, total_steps=total,
        warmup=warm, prior_loss_weight=d.prior_loss_weight, metadata=metadata)


def _update_project(project: Project, dotted: str, value: object) -> None:
    try:
        project.set(dotted, value)
        project.save()
    except (UserError, OSError):
        pass  # the run goes on with the detected value; the file is only a convenience


def _drop(layout: DatasetLayout, captions: list[str], cache: LatentCache,
          bad: set[int]) -> tuple[DatasetLayout, list[str]]:
    keep = [i for i in range(len(layout.entries)) if i not in bad]
    new_layout = layout.without(bad)
    cache.latents = {new: cache.latents[old] for new, old in enumerate(keep)}
    if cache.flip:
        cache.flipped = {new: cache.flipped[old] for new, old in enumerate(keep)}
    return new_layout, [captions[i] for i in keep]


def _encode_all(text: TextEncoding, captions: list[str], accelerator: Accelerator,
                dtype: torch.dtype) -> dict[str, CachedText]:
    import torch

    out = {}
    unique = sorted(set(captions))
    for start in range(0, len(unique), 16):
        chunk = unique[start:start + 16]
        with torch.no_grad(), accelerator.autocast():
            enc = text.encode(chunk)
        for k, c in enumerate(chunk):
            out[c] = (enc.hidden[k].to("cpu", dtype), enc.pooled[k].to("cpu", dtype) if enc.pooled is not None else None)
    return out


