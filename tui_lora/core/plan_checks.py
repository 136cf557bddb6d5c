"""The planner's warnings and errors: too few images, steps out of the usual range for the family
and subject, a risky learning rate, a low resolution, too many epochs, views or saved files, and
the model checks (:mod:`.model_checks`).

Each is an :class:`~.plan_data.Issue` with one line saying what is wrong and one saying what to do.
Apart from the step arithmetic (:mod:`.plan`) because the advice and its thresholds grow with
what users get wrong, and are read and tuned on their own. Pure Python: no torch.
"""

from __future__ import annotations

import math

from tui_lora.core.model_checks import model_issues
from tui_lora.core.plan_data import Issue, Plan, PlanInput
from tui_lora.core.registry import optimizers

# (min, max) total steps that usually give a good LoRA, by family and subject.
STEP_BANDS: dict[tuple[str, str], tuple[int, int]] = {
    ("sd15", "character"): (250, 3000),
    ("sd15", "concept"): (300, 4000),
    ("sd15", "style"): (500, 6000),
    ("sdxl", "character"): (400, 4000),
    ("sdxl", "concept"): (400, 5000),
    ("sdxl", "style"): (800, 8000),
}
ABSURD_STEPS = 10_000
MIN_IMAGES_ERROR = 5
FEW_IMAGES = 15
MAX_EPOCHS = 30
MAX_VIEWS_PER_IMAGE = 200
MAX_SAVED_FILES = 20


def plan_issues(p: Plan) -> list[Issue]:
    """Every warning and error for ``p``, in the order the Steps screen and ``tui-lora steps`` list them."""
    inp = p.input
    out: list[Issue] = []

    def add(code: str, level: str, message: str, fix: str) -> None:
        out.append(Issue(code, level, message, fix))

    if p.images == 0:
        add("no_images", "error", "The dataset has no images.",
            "Fetch some from a booru or copy 15-50 images into dataset/<N>_<name>/.")
    elif p.images < MIN_IMAGES_ERROR:
        add("too_few_images", "error", f"Only {p.images} images: too few to learn a subject.",
            "Collect at least 15, better 20-50, varied images.")
    elif p.images < FEW_IMAGES:
        add("few_images", "warning", f"Only {p.images} images: the LoRA may copy their poses and backgrounds.",
            "Aim for 15-50 varied images.")
    lo, hi = STEP_BANDS.get((inp.family, inp.subject), (250, 4000))
    fam = {"sd15": "SD1.5", "sdxl": "SDXL"}.get(inp.family, inp.family)
    if p.images and p.total_steps > ABSURD_STEPS:
        add("steps_absurd", "warning", f"{p.total_steps} steps is almost surely a mistake (a typo in repeats or epochs?).",
            f"A {fam} {inp.subject} LoRA needs about {lo}-{hi} steps; lower repeats or epochs.")
    elif p.images and p.total_steps > hi:
        add("steps_high", "warning", f"{p.total_steps} steps is more than a {fam} {inp.subject} usually needs ({lo}-{hi}); it may overfit.",
            "Lower repeats or epochs, or keep it and pick an earlier epoch in the comparison.")
    elif p.images and p.total_steps < lo:
        add("steps_low", "warning", f"{p.total_steps} steps is fewer than a {fam} {inp.subject} usually needs ({lo}-{hi}); it may learn too little.",
            "Raise repeats or epochs.")
    gb = p.global_batch
    if p.images and gb > p.images:
        add("batch_gt_images", "warning", f"The batch ({gb}) is larger than the number of images ({p.images}).",
            f"Use a batch of at most {p.images}.")
    if inp.network_alpha > inp.network_dim:
        add("alpha_gt_dim", "warning",
            f"network_alpha {inp.network_alpha:g} is larger than network_dim {inp.network_dim}: updates are amplified and training gets unstable.",
            f"Use alpha = dim / 2 ({inp.network_dim / 2:g}) or alpha = dim.")
    out.extend(_lr_issues(inp))
    out.extend(_model_issues(inp))
    if inp.resolution % 64:
        add("resolution_not_64", "warning", f"Resolution {inp.resolution} is not a multiple of 64, which SD's latent grid needs.",
            f"Use {round(inp.resolution / 64) * 64 or 64}.")
    if inp.family == "sdxl" and inp.resolution < 768:
        add("sdxl_low_res", "warning", f"SDXL trained at {inp.resolution} px gives blurry, broken LoRAs.",
            "Train SDXL at 1024 (at least 768).")
    if inp.family == "sd15" and inp.resolution < 384:
        add("sd15_low_res", "warning", f"SD1.5 trained at {inp.resolution} px gives blurry LoRAs.",
            "Train SD1.5 at 512 (at least 384).")
    if p.epochs > MAX_EPOCHS:
        add("many_epochs", "warning", f"{p.epochs} epochs is a lot; most LoRAs peak well before 30.",
            "Raise repeats and lower epochs, keeping the total steps.")
    if p.views_per_image > MAX_VIEWS_PER_IMAGE:
        add("views_per_image", "warning", f"Each image is seen {p.views_per_image} times (repeats × epochs); it will be memorised.",
            "Lower repeats or epochs, or add more images.")
    if p.saved_files > MAX_SAVED_FILES:
        add("many_saves", "warning", f"{p.saved_files} LoRA files will be saved; comparing them all is tedious and fills the disk.",
            f"Raise save_every_n_epochs to {math.ceil(p.epochs / MAX_SAVED_FILES)} or more.")
    return out


def _lr_issues(inp: PlanInput) -> list[Issue]:
    out: list[Issue] = []
    opt = optimizers.find(inp.optimizer)
    self_tuning = opt is not None and opt.self_tuning
    max_lr = opt.max_lr if opt is not None else 1e-3
    rates = [("unet_lr", inp.unet_lr)]
    if not inp.train_unet_only:
        rates.append(("text_encoder_lr", inp.text_encoder_lr))
    for name, lr in rates:
        if lr <= 0:
            continue
        if self_tuning and not 0.1 <= lr <= 2.0:
            out.append(Issue("lr_adaptive", "warning",
                             f"{inp.optimizer} finds the learning rate itself and expects {name} near 1.0, not {lr:g}.",
                             f"Set {name} = 1.0."))
        elif not self_tuning and lr > max_lr and opt is not None and opt.lr_note:
            out.append(Issue("lr_high", "warning", f"{name} {lr:g} is high for {opt.lr_note}.",
                             f"Try {name} = {lr / 5:.1e}."))
        elif not self_tuning and lr > max_lr:
            out.append(Issue("lr_high", "warning",
                             f"{name} {lr:g} is risky with {inp.optimizer}: above {_sci(max_lr)} LoRAs burn fast.",
                             f"Use {name} between 1e-4 and 5e-4."))
    if not self_tuning and inp.unet_lr <= 0 and (inp.train_unet_only or inp.text_encoder_lr <= 0):
        out.append(Issue("lr_zero", "error", "Every learning rate is 0, so nothing would train.",
                         "Set unet_lr (e.g. 5e-4 for SD1.5, 2e-4 for SDXL)."))
    return out


def _model_issues(inp: PlanInput) -> list[Issue]:
    return [Issue(*found) for found in model_issues(
        network_type=inp.network_type, dora=inp.dora, v_parameterization=inp.v_parameterization,
        zero_terminal_snr=inp.zero_terminal_snr, min_snr_gamma=inp.min_snr_gamma,
        debiased_estimation_loss=inp.debiased_estimation_loss, guidance_rescale=inp.guidance_rescale,
        model_v_prediction=inp.model_v_prediction, model_zero_terminal_snr=inp.model_zero_terminal_snr)]


def _sci(x: float) -> str:
    """1e-3 → ``1e-3`` (not 0.001 or 1e-03)."""
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"
