"""The training loss, with kohya sd-scripts' options (``library/train_util.py``,
``library/custom_train_functions.py``, ``train_network.py``), in kohya's order:

1. per element: ``l2`` (MSE), ``l1``, ``huber`` ``2c(√((p−y)² + c²) − c)`` or ``smooth_l1``
   ``2(√((p−y)² + c²) − c)``, where the threshold c depends on the timestep (:func:`huber_threshold`);
2. the mean over each sample;
3. × the sample's weight (``prior_loss_weight`` for regularization images);
4. × min-SNR-γ weights, then × debiased-estimation weights (``1/√SNR``, ``1/(SNR+1)`` for v-prediction,
   SNR capped at 1000);
5. the mean over the batch.

kohya computes the SNR table for steps 4 before ``--zero_terminal_snr`` rescales the schedule (its
``prepare_scheduler_for_custom_training`` runs first), so those weights use the original schedule
and stay finite at the last timestep; the trainer builds its table the same way. The Huber ``snr``
schedule reads the (rescaled) schedule the noise is added with, as kohya's does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tui_lora.core.train.noise import snr_weights

if TYPE_CHECKING:
    import torch

    from tui_lora.core.settings import TrainingSettings

ROBUST = ("huber", "smooth_l1")  # the loss types with a threshold


def huber_threshold(loss_type: str, schedule: str, huber_c: float, huber_scale: float, timesteps: torch.Tensor,
                    alphas_cumprod: torch.Tensor, num_train_timesteps: int) -> torch.Tensor | None:
    """kohya's ``get_huber_threshold_if_needed``: c per sample, or None for l2 / l1.

    - ``exponential``: ``exp(−t·(−ln huber_c)/T) · huber_scale`` (1 at t = 0, huber_c at t = T);
    - ``snr``: ``(1 − huber_c)/(1 + σ_t)² + huber_c`` with ``σ_t = √((1 − ᾱ_t)/ᾱ_t)`` (huber_scale unused,
      as in kohya);
    - ``constant``: ``huber_c · huber_scale``.
    """
    import torch

    if loss_type not in ROBUST:
        return None
    if schedule == "exponential":
        alpha = -math.log(huber_c) / num_train_timesteps
        return torch.exp(-alpha * timesteps) * huber_scale
    if schedule == "snr":
        ac = alphas_cumprod.to(timesteps.device)[timesteps]
        sigmas = ((1.0 - ac) / ac) ** 0.5
        return (1 - huber_c) / (1 + sigmas) ** 2 + huber_c
    if schedule == "constant":
        return torch.full(timesteps.shape, huber_c * huber_scale, device=timesteps.device)
    raise ValueError(f"unknown huber_schedule {schedule!r}")


def elementwise_loss(pred: torch.Tensor, target: torch.Tensor, loss_type: str,
                     huber_c: torch.Tensor | None = None) -> torch.Tensor:
    """kohya's ``conditional_loss(..., reduction="none")``; ``huber_c`` has one value per sample."""
    import torch.nn.functional as F

    if loss_type == "l2":
        return F.mse_loss(pred, target, reduction="none")
    if loss_type == "l1":
        return F.l1_loss(pred, target, reduction="none")
    if loss_type in ROBUST:
        if huber_c is None:
            raise ValueError(f"{loss_type} needs a threshold")
        c = huber_c.view(-1, *([1] * (pred.ndim - 1)))
        robust = (((pred - target) ** 2 + c ** 2).sqrt() - c) * 2
        return robust * c if loss_type == "huber" else robust
    raise ValueError(f"unknown loss_type {loss_type!r}")


def debiased_weights(timesteps: torch.Tensor, snr_table: torch.Tensor, v_prediction: bool) -> torch.Tensor:
    """kohya's ``apply_debiased_estimation``: ``1/√SNR`` (``1/(SNR+1)`` for v-prediction), SNR ≤ 1000."""
    import torch

    snr = snr_table.to(timesteps.device)[timesteps]
    snr = torch.minimum(snr, torch.ones_like(snr) * 1000)
    return 1 / (snr + 1) if v_prediction else 1 / torch.sqrt(snr)


def training_loss(pred: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor, *, t: TrainingSettings,
                  alphas_cumprod: torch.Tensor, num_train_timesteps: int, snr_table: torch.Tensor,
                  v_prediction: bool, sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The batch's loss (a scalar) as kohya's ``train_network.py`` computes it (module docstring);
    ``sample_weights`` None means all 1 (nothing to multiply, nothing to copy to the device)."""
    c = huber_threshold(t.loss_type, t.huber_schedule, t.huber_c, t.huber_scale, timesteps, alphas_cumprod,
                        num_train_timesteps)
    loss = elementwise_loss(pred.float(), target.float(), t.loss_type, c).mean(dim=list(range(1, pred.ndim)))
    if sample_weights is not None:
        loss = loss * sample_weights
    if t.min_snr_gamma:
        loss = loss * snr_weights(timesteps, snr_table, t.min_snr_gamma, v_prediction)
    if t.debiased_estimation_loss:
        loss = loss * debiased_weights(timesteps, snr_table, v_prediction)
    return loss.mean()
