"""Render images with diffusers from components already in memory (the trainer's, or a loaded base model).

Shared by sample images during training (:mod:`.sampling`) and the comparison grid
(:mod:`tui_lora.core.compare`). Prompts are encoded the way training saw captions (clip_skip, 75-token
chunks, SDXL's two encoders) and handed to the pipeline as embeddings; the pipeline only denoises, and
the VAE decodes in its own precision (SDXL's VAE overflows in fp16). Initial noise comes from a CPU
generator, so a seed gives the same image on any GPU or on the CPU (as kohya and webui's "CPU" RNG).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tui_lora.core.registry import samplers
from tui_lora.core.sample_prompts import SamplePrompt

if TYPE_CHECKING:
    import torch
    from diffusers import AutoencoderKL, DiffusionPipeline, SchedulerMixin
    from PIL import Image
    from transformers import CLIPTokenizer

    from tui_lora.core.train.text import Encoded

# What a scheduler config from the model says about training, kept when the sampler changes.
_BASE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "steps_offset",
              "timestep_spacing", "rescale_betas_zero_snr")
_SD_DEFAULT = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
               "steps_offset": 1}


def sampler_label(name: str) -> str:
    return samplers.label(name)


def make_scheduler(name: str, base_config: dict[str, Any] | None, *, v_prediction: bool,
                   zero_terminal_snr: bool = False) -> SchedulerMixin:
    """A fresh diffusers scheduler for kohya's sampler ``name`` on the model's noise schedule.

    ``zero_terminal_snr``: the rescaled betas the model was trained with and trailing timesteps, so
    sampling starts from pure noise (Lin et al. 2023, §3.3). Schedulers without diffusers'
    ``rescale_betas_zero_snr`` get the rescaled betas themselves, with the last ᾱ nudged to 2⁻²⁴ as
    diffusers does for Euler (a zero would make its first σ infinite)."""
    import inspect

    import diffusers

    entry = samplers.SAMPLERS[name]
    cls = getattr(diffusers, entry.scheduler)
    config = dict(_SD_DEFAULT)
    config.update({k: v for k, v in (base_config or {}).items() if k in _BASE_KEYS and v is not None})
    config.update(entry.config)
    config["prediction_type"] = "v_prediction" if v_prediction else "epsilon"
    accepts = inspect.signature(cls.__init__).parameters
    config.pop("rescale_betas_zero_snr", None)
    if zero_terminal_snr:
        if "timestep_spacing" in accepts:
            config["timestep_spacing"] = "trailing"
        if "rescale_betas_zero_snr" in accepts:
            config["rescale_betas_zero_snr"] = True
        else:
            config["trained_betas"] = zero_snr_betas(config)
    return cls.from_config(config)


def zero_snr_betas(config: dict[str, Any]) -> list[float]:
    """The schedule of ``config`` rescaled to zero terminal SNR, its last ᾱ set to 2⁻²⁴ (not 0)."""
    from diffusers import DDPMScheduler

    ddpm = DDPMScheduler(num_train_timesteps=config["num_train_timesteps"], beta_start=config["beta_start"],
                         beta_end=config["beta_end"], beta_schedule=config["beta_schedule"],
                         trained_betas=config.get("trained_betas"), rescale_betas_zero_snr=True)
    betas = ddpm.betas.clone()
    betas[-1] = 1 - 2.0 ** -24 / float(ddpm.alphas_cumprod[-2])
    return betas.tolist()


def build_pipeline(family: str, *, unet: torch.nn.Module, vae: AutoencoderKL, text_encoders: list[torch.nn.Module],
                   tokenizers: list[CLIPTokenizer], scheduler: SchedulerMixin) -> DiffusionPipeline:
    """A diffusers pipeline over ``unet`` / ``vae`` / encoders as they are (no copy, no reload)."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    inner = [getattr(te, "module", te) for te in text_encoders]  # DDP wrappers out
    unet = getattr(unet, "module", unet)
    if family == "sdxl":
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=inner[0], text_encoder_2=inner[1],
                                         tokenizer=tokenizers[0], tokenizer_2=tokenizers[1], unet=unet,
                                         scheduler=scheduler, add_watermarker=False)
    else:
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=inner[0], tokenizer=tokenizers[0], unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def token_chunks(tokenizer: CLIPTokenizer, texts: list[str]) -> int:
    """75-token chunks the longest of ``texts`` needs (1-3), as webui extends long prompts."""
    longest = max(len(tokenizer(t, truncation=False).input_ids) - 2 for t in texts)
    return min(3, max(1, math.ceil(longest / 75)))


def encode_pair(family: str, tokenizers: list[CLIPTokenizer], text_encoders: list[torch.nn.Module], clip_skip: int,
                prompt: str, negative: str) -> tuple[Encoded, Encoded]:
    """(prompt, negative) → two ``text.Encoded`` with the same token length."""
    from tui_lora.core.train.text import Encoded, TextEncoding

    chunks = token_chunks(tokenizers[0], [prompt, negative])
    text = TextEncoding(family, tokenizers, text_encoders, clip_skip=clip_skip if family == "sd15" else 1,
                        max_token_length=75 * chunks)
    both = text.encode([prompt, negative])
    pooled = both.pooled
    return (Encoded(both.hidden[:1], pooled[:1] if pooled is not None else None),
            Encoded(both.hidden[1:], pooled[1:] if pooled is not None else None))


def render(pipe: DiffusionPipeline, family: str, sp: SamplePrompt, *, tokenizers: list[CLIPTokenizer],
           text_encoders: list[torch.nn.Module], clip_skip: int, scheduler_config: dict[str, Any] | None,
           v_prediction: bool, zero_terminal_snr: bool = False, guidance_rescale: float = 0.0,
           autocast: contextlib.AbstractContextManager | None = None,
           cancel: threading.Event | None = None) -> Image.Image | None:
    """One image (PIL) for a resolved prompt, or None when ``cancel`` was set midway."""
    import torch

    pipe.scheduler = make_scheduler(sp.sampler, scheduler_config, v_prediction=v_prediction,
                                    zero_terminal_snr=zero_terminal_snr)
    with torch.no_grad(), (autocast or contextlib.nullcontext()):
        pos, neg = encode_pair(family, tokenizers, text_encoders, clip_skip, sp.prompt, sp.negative)
        latents = denoise(pipe, family, pos, neg, sp, torch.Generator("cpu").manual_seed(sp.seed),
                          guidance_rescale=guidance_rescale, cancel=cancel)
    if cancel is not None and cancel.is_set():
        return None
    return decode(pipe, latents)


def denoise(pipe: DiffusionPipeline, family: str, pos: Encoded, neg: Encoded, sp: SamplePrompt,
            generator: torch.Generator | list[torch.Generator], *, guidance_rescale: float = 0.0,
            cancel: threading.Event | None = None) -> torch.Tensor:
    """The pipeline call of one picture or of a batch (``pos``/``neg`` hold one row per picture, each
    with its generator; ``sp`` gives the size, steps and CFG they share): the latents, stopped early
    when ``cancel`` is set. Called under the caller's no_grad / autocast."""
    kwargs: dict[str, Any] = {
        "prompt_embeds": pos.hidden, "negative_prompt_embeds": neg.hidden,
        "num_inference_steps": sp.steps, "guidance_scale": sp.cfg, "width": sp.width, "height": sp.height,
        "generator": generator, "output_type": "latent",
    }
    if guidance_rescale:
        kwargs["guidance_rescale"] = guidance_rescale
    if family == "sdxl":
        kwargs.update(pooled_prompt_embeds=pos.pooled, negative_pooled_prompt_embeds=neg.pooled)
    if cancel is not None:
        def stop_when_cancelled(p, _i, _t, tensors):
            if cancel.is_set():
                p._interrupt = True  # diffusers' documented way to stop a running pipeline
            return tensors

        kwargs["callback_on_step_end"] = stop_when_cancelled
    return pipe(**kwargs).images


def decode(pipe: DiffusionPipeline, latents: torch.Tensor) -> Image.Image:
    """Latents → PIL image, with the VAE in its own dtype."""
    import torch

    vae = pipe.vae
    lat = latents.to(vae.device, vae.dtype)
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    sf = vae.config.scaling_factor
    if mean is not None and std is not None:
        shape = (1, lat.shape[1], 1, 1)
        lat = lat * torch.tensor(std).view(shape).to(lat) / sf + torch.tensor(mean).view(shape).to(lat)
    else:
        lat = lat / sf
    with torch.no_grad():
        image = vae.decode(lat).sample
    return pipe.image_processor.postprocess(image.float(), output_type="pil")[0]


def a1111_parameters(sp: SamplePrompt, **extra: Any) -> str:
    """The ``parameters`` text webui writes into its PNGs (PNG Info reads it back)."""
    fields = {"Steps": sp.steps, "Sampler": sampler_label(sp.sampler), "CFG scale": f"{sp.cfg:g}", "Seed": sp.seed,
              "Size": f"{sp.width}x{sp.height}", **extra}
    tail = ", ".join(f"{k}: {v}" for k, v in fields.items() if v is not None and v != "")
    return f"{sp.prompt}\nNegative prompt: {sp.negative}\n{tail}"


def png_bytes(image: Image.Image, parameters: str | None = None) -> bytes:
    import io

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Every global RNG (python, numpy, torch CPU and CUDA) as it was before the block."""
    import numpy as np
    import torch

    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def free_memory(device: torch.device | str) -> None:
    import gc

    import torch

    gc.collect()
    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.empty_cache()
