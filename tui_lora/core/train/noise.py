"""Noise, timesteps, targets and loss weights: kohya's recipes on top of diffusers' DDPM maths."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from diffusers import DDPMScheduler


def make_noise(latents: torch.Tensor, generator: torch.Generator, *, noise_offset: float = 0.0,
               multires_iterations: int = 0, multires_discount: float = 0.3) -> torch.Tensor:
    """Gaussian noise like ``latents``, with kohya's optional offset and pyramid (multires) noise.

    Every random draw comes from ``generator``, so a step's noise is a function of its seed.
    """
    import torch

    noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=torch.float32)
    b, c, h, w = latents.shape
    if noise_offset:
        noise = noise + noise_offset * torch.randn((b, c, 1, 1), generator=generator, device=latents.device)
    if multires_iterations:
        up = torch.nn.Upsample(size=(h, w), mode="bilinear")
        for i in range(multires_iterations):
            r = torch.rand((), generator=generator, device=latents.device).item() * 2 + 2
            hn, wn = max(1, int(h / (r ** i))), max(1, int(w / (r ** i)))
            noise = noise + up(torch.randn((b, c, hn, wn), generator=generator, device=latents.device)) * multires_discount ** i
            if hn == 1 or wn == 1:
                break
        noise = noise / noise.std()
    return noise


def sample_timesteps(batch: int, generator: torch.Generator, device: torch.device | str,
                     num_train_timesteps: int = 1000) -> torch.Tensor:
    import torch

    return torch.randint(0, num_train_timesteps, (batch,), generator=generator, device=device).long()


def all_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    return alphas_cumprod / (1.0 - alphas_cumprod)


def snr_weights(timesteps: torch.Tensor, snr_table: torch.Tensor, gamma: float, v_prediction: bool) -> torch.Tensor:
    """Min-SNR-γ weights: min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR+1) for v-prediction."""
    import torch

    snr = snr_table.to(timesteps.device)[timesteps]
    clipped = torch.minimum(snr, torch.full_like(snr, gamma))
    return clipped / (snr + 1) if v_prediction else clipped / snr


def target_for(scheduler: DDPMScheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor,
               v_prediction: bool) -> torch.Tensor:
    if v_prediction:
        return scheduler.get_velocity(latents, noise, timesteps)
    return noise


def training_scheduler(scheduler_config: dict[str, Any], v_prediction: bool,
                       zero_terminal_snr: bool = False) -> DDPMScheduler:
    """The DDPM noise schedule kohya trains with (SD's scaled-linear betas), from the model's config.

    ``zero_terminal_snr`` rescales the betas so the last timestep is pure noise (Lin et al. 2023,
    kohya's ``fix_noise_scheduler_betas_for_zero_terminal_snr``: the same algorithm as diffusers'
    ``rescale_betas_zero_snr``)."""
    from diffusers import DDPMScheduler

    cfg = {
        "beta_start": scheduler_config.get("beta_start", 0.00085),
        "beta_end": scheduler_config.get("beta_end", 0.012),
        "beta_schedule": scheduler_config.get("beta_schedule", "scaled_linear"),
        "num_train_timesteps": scheduler_config.get("num_train_timesteps", 1000),
        "clip_sample": False,
        "prediction_type": "v_prediction" if v_prediction else "epsilon",
    }
    if zero_terminal_snr:
        cfg["rescale_betas_zero_snr"] = True
    return DDPMScheduler(**cfg)


def warmup_steps(total_steps: int, ratio: float, steps: int) -> int:
    if steps > 0:
        return min(steps, total_steps)
    return min(total_steps, math.ceil(ratio * total_steps))
