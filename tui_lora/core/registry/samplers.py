"""Samplers by kohya's names (``sample.sampler``, ``--ss``, ``tui-lora compare --sampler``).

Each entry maps a name onto a diffusers scheduler class and its config overrides, with webui's
name for the PNG parameters and grid captions. Adding one is one :class:`Sampler` entry; the
renderer (:func:`tui_lora.core.train.pipeline.make_scheduler`) builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Sampler(NamedTuple):
    name: str
    scheduler: str  # the diffusers scheduler class
    label: str  # webui's name ("Euler a", "DPM++ 2M Karras")
    help: str
    config: Mapping[str, Any] = {}  # overrides of the model's scheduler config


_NO_CLIP = {"clip_sample": False, "set_alpha_to_one": False}  # as SD's DDIM / PNDM configs
_MAIN = (
    Sampler("ddim", "DDIMScheduler", "DDIM", "Deterministic; good at few steps.", _NO_CLIP),
    Sampler("pndm", "PNDMScheduler", "PLMS", "Pseudo linear multi-step (PLMS), SD's original sampler.",
            {"skip_prk_steps": True, **_NO_CLIP}),
    Sampler("lms", "LMSDiscreteScheduler", "LMS", "Linear multi-step."),
    Sampler("euler", "EulerDiscreteScheduler", "Euler", "Euler: simple and deterministic."),
    Sampler("euler_a", "EulerAncestralDiscreteScheduler", "Euler a",
            "Euler ancestral: adds noise every step; what most anime models are used with."),
    Sampler("heun", "HeunDiscreteScheduler", "Heun", "Second-order Euler: better at few steps, twice the cost."),
    Sampler("dpm_2", "KDPM2DiscreteScheduler", "DPM2", "DPM2, second order."),
    Sampler("dpm_2_a", "KDPM2AncestralDiscreteScheduler", "DPM2 a", "DPM2 ancestral."),
    Sampler("dpmsolver", "DPMSolverMultistepScheduler", "DPM-Solver 2M", "DPM-Solver, second-order multistep.",
            {"algorithm_type": "dpmsolver", "solver_order": 2, "final_sigmas_type": "sigma_min"}),
    # What guides and the presets mean by "dpmsolver++": DPM++ 2M Karras.
    Sampler("dpmsolver++", "DPMSolverMultistepScheduler", "DPM++ 2M Karras",
            "DPM++ 2M Karras: sharp results in 20-30 steps.",
            {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    Sampler("dpmsingle", "DPMSolverSinglestepScheduler", "DPM++ 2S", "DPM++ 2S, single-step.",
            {"algorithm_type": "dpmsolver++", "solver_order": 2}),
)
_BY_NAME = {s.name: s for s in _MAIN}
# kohya's k-diffusion spellings of five of them.
_ALIASES = tuple(_BY_NAME[n]._replace(name="k_" + n, help=f"kohya's k-diffusion spelling of {n}.")
                 for n in ("lms", "euler", "euler_a", "dpm_2", "dpm_2_a"))

SAMPLERS: dict[str, Sampler] = {s.name: s for s in (*_MAIN, *_ALIASES)}
NAMES: tuple[str, ...] = tuple(SAMPLERS)


def label(name: str) -> str:
    """webui's name of the sampler (``euler_a`` → ``Euler a``)."""
    return SAMPLERS[name].label
