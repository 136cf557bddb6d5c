"""What the base model says about its noise schedule, and the settings that would train it wrong.

The planner (:mod:`.plan`) turns each finding into an ``Issue``: a v-prediction model trained as epsilon
(or the reverse), zero terminal SNR without v-prediction or without CFG rescale for the samples, a
zero-terminal-SNR model trained without its schedule, DoRA on a type that has none. Pure Python: the
model is read through :func:`~.models.inspect_model` (a header or a config file, never weights).
"""

from __future__ import annotations

from tui_lora.core.errors import UserError
from tui_lora.core.models import ModelInfo, inspect_model
from tui_lora.core.registry import networks

# (code, level, message, fix), the fields of plan_data.Issue
Finding = tuple[str, str, str, str]


def model_info(ref: str) -> ModelInfo | None:
    """What a local base model says about itself, or None (no model, or one the trainer will reject)."""
    try:
        return inspect_model(ref) if ref else None
    except UserError:
        return None  # a missing model is the trainer's error to report, not the planner's


def model_issues(*, network_type: str, dora: bool, v_parameterization: bool, zero_terminal_snr: bool,
                 min_snr_gamma: float, debiased_estimation_loss: bool, guidance_rescale: float,
                 model_v_prediction: bool | None, model_zero_terminal_snr: bool | None) -> list[Finding]:
    """Known bad combinations of the network, the prediction type and the noise schedule
    (``model_*``: what the base model says, None when it says nothing)."""
    out: list[Finding] = []
    net = networks.NETWORKS.get(network_type)
    if dora and net is not None and not net.dora:
        out.append(("dora_type", "error", f"DoRA works with lora and locon, not {network_type}.",
                    "Set network.dora = false, or network_type = locon."))
    v_pred = v_parameterization or bool(model_v_prediction)
    if model_v_prediction and not v_parameterization:
        weights = " and its min-SNR / debiased weights would take their epsilon form" if (
            min_snr_gamma or debiased_estimation_loss) else ""
        out.append(("vpred_as_epsilon", "warning",
                    f"The base model predicts v (v-prediction) but model.v_parameterization is false: trained as "
                    f"epsilon it would learn the wrong target{weights}.",
                    "Set model.v_parameterization = true (the trainer switches to it by itself)."))
    elif model_v_prediction is False and v_parameterization:
        out.append(("epsilon_as_vpred", "warning",
                    "model.v_parameterization is true but the base model predicts noise (epsilon); the LoRA would "
                    "learn the wrong target.", "Set model.v_parameterization = false."))
    if model_zero_terminal_snr and not zero_terminal_snr:
        out.append(("ztsnr_off", "warning",
                    "The base model was trained with zero terminal SNR but model.zero_terminal_snr is false.",
                    "Set model.zero_terminal_snr = true (the trainer switches to it by itself)."))
    ztsnr = zero_terminal_snr or bool(model_zero_terminal_snr)
    if ztsnr and not v_pred:
        out.append(("ztsnr_without_vpred", "warning",
                    "Zero terminal SNR without v-prediction: the last timestep is pure noise, from which an epsilon "
                    "model cannot learn anything (kohya warns the same).",
                    "Use it with a v-prediction model (model.v_parameterization = true) or turn it off."))
    elif ztsnr and not guidance_rescale:
        out.append(("ztsnr_no_rescale", "warning",
                    "Samples of a zero-terminal-SNR model over-expose at usual CFG scales without CFG rescale.",
                    "Set sample.guidance_rescale = 0.7."))
    return out
