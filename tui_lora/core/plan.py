"""The step calculator, its warnings, and a VRAM estimate. Pure Python: no torch.

Steps follow kohya: every ``<N>_<name>`` folder contributes images × N samples per epoch;
a step takes one batch from one bucket, so

    steps per epoch = Σ over buckets ⌈samples in bucket ÷ global batch⌉

and before buckets are known each folder counts as its own bucket
(Σ over folders ⌈images × repeats ÷ batch⌉). ``max_train_epochs`` wins over ``max_train_steps``
as in kohya; with epochs 0 the run stops after ``max_train_steps``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tui_lora.core.model_checks import model_info, model_issues
from tui_lora.core.registry import optimizers
from tui_lora.core.settings import Settings
from tui_lora.core.speed import text_encoders_cached, with_low_vram
from tui_lora.core.vram import VramEstimate, estimate_vram

__all__ = ["FolderCount", "Issue", "Plan", "PlanInput", "VramEstimate", "estimate_vram", "make_plan", "model_info",
           "plan_for_project", "plan_from_settings", "steps_per_epoch", "vram_for"]

if TYPE_CHECKING:
    from tui_lora.core.models import ModelInfo
    from tui_lora.core.project import Project

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
_DEFAULTS = Settings()  # the schema's defaults: a PlanInput built by hand starts from them


@dataclass(frozen=True)
class FolderCount:
    """One dataset folder: its name, how many images, how many repeats."""

    name: str
    images: int
    repeats: int


@dataclass(frozen=True)
class Issue:
    code: str
    level: str  # "error" | "warning"
    message: str  # what is wrong, in one line
    fix: str  # what to do about it, in one line

    def __str__(self) -> str:
        return f"{self.message} {self.fix}"


@dataclass(frozen=True)
class PlanInput:
    """What the plan depends on: the dataset's counts and the settings, in the planner's words.
    Build it with :meth:`from_settings`; fields left out take the schema's defaults."""

    folders: tuple[FolderCount, ...]
    batch_size: int = _DEFAULTS.training.train_batch_size
    epochs: int = _DEFAULTS.training.max_train_epochs
    max_train_steps: int = _DEFAULTS.training.max_train_steps
    gpus: int = 1
    family: str = _DEFAULTS.project.family
    subject: str = _DEFAULTS.project.subject
    optimizer: str = _DEFAULTS.training.optimizer_type
    unet_lr: float = _DEFAULTS.training.unet_lr
    text_encoder_lr: float = _DEFAULTS.training.text_encoder_lr
    train_unet_only: bool = _DEFAULTS.network.network_train_unet_only
    network_type: str = _DEFAULTS.network.network_type
    network_dim: int = _DEFAULTS.network.network_dim
    network_alpha: float = _DEFAULTS.network.network_alpha
    conv_dim: int = _DEFAULTS.network.conv_dim
    conv_alpha: float = _DEFAULTS.network.conv_alpha
    dora: bool = _DEFAULTS.network.dora
    v_parameterization: bool = _DEFAULTS.model.v_parameterization
    zero_terminal_snr: bool = _DEFAULTS.model.zero_terminal_snr
    min_snr_gamma: float = _DEFAULTS.training.min_snr_gamma
    debiased_estimation_loss: bool = _DEFAULTS.training.debiased_estimation_loss
    guidance_rescale: float = _DEFAULTS.sample.guidance_rescale
    # What the base model itself says (None: it does not, or it was not read)
    model_v_prediction: bool | None = None
    model_zero_terminal_snr: bool | None = None
    resolution: int = _DEFAULTS.dataset.resolution
    save_every_n_epochs: int = _DEFAULTS.output.save_every_n_epochs
    mixed_precision: str = _DEFAULTS.training.mixed_precision
    gradient_checkpointing: bool = _DEFAULTS.training.gradient_checkpointing
    cache_latents: bool = _DEFAULTS.dataset.cache_latents
    fp8_base: bool = _DEFAULTS.training.fp8_base
    text_encoders_cached: bool = False  # speed.text_encoders_cached: asked for and possible
    reg_images: int = 0
    # samples (images × repeats) per bucket, across folders, with the balanced regularization
    # samples already in them (as the trainer batches them); None before buckets are computed
    bucket_samples: tuple[int, ...] | None = None
    it_per_s: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, folders: tuple[FolderCount, ...] | list[FolderCount] = (), *,
                      gpus: int = 1, reg_images: int = 0, bucket_samples: tuple[int, ...] | None = None,
                      it_per_s: float | None = None, model: ModelInfo | None = None) -> PlanInput:
        settings = with_low_vram(settings)  # the run's settings: low_vram / fp8_base turn others on
        t, n, d, m = settings.training, settings.network, settings.dataset, settings.model
        return cls(
            folders=tuple(folders), batch_size=t.train_batch_size, epochs=t.max_train_epochs,
            max_train_steps=t.max_train_steps, gpus=gpus, family=settings.project.family,
            subject=settings.project.subject, optimizer=t.optimizer_type, unet_lr=t.unet_lr,
            text_encoder_lr=t.text_encoder_lr, train_unet_only=n.network_train_unet_only, network_type=n.network_type,
            network_dim=n.network_dim, network_alpha=n.network_alpha, conv_dim=n.conv_dim, conv_alpha=n.conv_alpha,
            dora=n.dora, v_parameterization=m.v_parameterization, zero_terminal_snr=m.zero_terminal_snr,
            min_snr_gamma=t.min_snr_gamma, debiased_estimation_loss=t.debiased_estimation_loss,
            guidance_rescale=settings.sample.guidance_rescale,
            model_v_prediction=model.v_prediction if model else None,
            model_zero_terminal_snr=model.zero_terminal_snr if model else None,
            resolution=d.resolution, save_every_n_epochs=settings.output.save_every_n_epochs,
            mixed_precision=t.mixed_precision, gradient_checkpointing=t.gradient_checkpointing,
            cache_latents=d.cache_latents, fp8_base=t.fp8_base, text_encoders_cached=text_encoders_cached(settings),
            reg_images=reg_images, bucket_samples=bucket_samples, it_per_s=it_per_s,
        )

    @property
    def trains_text_encoder(self) -> bool:
        return not self.train_unet_only and self.text_encoder_lr > 0


@dataclass
class Plan:
    input: PlanInput
    images: int
    samples_per_epoch: int
    global_batch: int
    steps_per_epoch: int
    epochs: int
    total_steps: int
    saved_files: int
    views_per_image: int
    breakdown: list[str]
    issues: list[Issue] = field(default_factory=list)
    seconds: float | None = None
    vram: VramEstimate | None = None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    def to_dict(self) -> dict[str, Any]:
        d = {
            "images": self.images,
            "samples_per_epoch": self.samples_per_epoch,
            "batch_size": self.input.batch_size,
            "gpus": self.input.gpus,
            "global_batch": self.global_batch,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "total_steps": self.total_steps,
            "saved_files": self.saved_files,
            "views_per_image": self.views_per_image,
            "breakdown": self.breakdown,
            "folders": [asdict(f) for f in self.input.folders],
            "issues": [asdict(i) for i in self.issues],
            "seconds": self.seconds,
            "vram_gb": self.vram.total_gb if self.vram else None,
            "vram_parts_gb": self.vram.parts if self.vram else None,
        }
        return d


def steps_per_epoch(inp: PlanInput) -> int:
    gb = inp.batch_size * max(1, inp.gpus)
    if inp.bucket_samples is not None:
        # Exact: the trainer's batches, regularization samples included.
        return sum(math.ceil(n / gb) for n in inp.bucket_samples if n > 0)
    per_epoch = sum(math.ceil(f.images * f.repeats / gb) for f in inp.folders if f.images > 0)
    if inp.reg_images > 0:
        per_epoch *= 2  # kohya pairs every training sample with a regularization sample
    return per_epoch


def epochs_and_steps(spe: int, epochs: int, max_train_steps: int) -> tuple[int, int]:
    """(epochs, total steps) for ``spe`` steps per epoch: max_train_epochs wins over max_train_steps, as in
    kohya. The trainer calls this too, so the plan and the run agree."""
    if epochs > 0:
        return epochs, spe * epochs
    return (math.ceil(max_train_steps / spe) if spe else 0), max_train_steps


def make_plan(inp: PlanInput) -> Plan:
    gb = inp.batch_size * max(1, inp.gpus)
    images = sum(f.images for f in inp.folders)
    samples = sum(f.images * f.repeats for f in inp.folders)
    spe = steps_per_epoch(inp)
    epochs, total = epochs_and_steps(spe, inp.epochs, inp.max_train_steps)
    views = max((f.repeats for f in inp.folders if f.images), default=0) * epochs
    saved = _saved_files(epochs, inp.save_every_n_epochs)
    plan = Plan(
        input=inp,
        images=images,
        samples_per_epoch=samples,
        global_batch=gb,
        steps_per_epoch=spe,
        epochs=epochs,
        total_steps=total,
        saved_files=saved,
        views_per_image=views,
        breakdown=_breakdown(inp, spe, epochs, total),
    )
    plan.issues = _issues(plan)
    if inp.it_per_s and inp.it_per_s > 0:
        plan.seconds = total / inp.it_per_s
    plan.vram = vram_for(inp)
    return plan


def _saved_files(epochs: int, every: int) -> int:
    if epochs <= 0:
        return 0
    intermediate = (epochs - 1) // every if every > 0 else 0
    return intermediate + 1  # plus the final file


def _batch_text(inp: PlanInput) -> str:
    if inp.gpus > 1:
        return f"batch {inp.batch_size} × {inp.gpus} GPUs"
    return f"batch {inp.batch_size}"


def _breakdown(inp: PlanInput, spe: int, epochs: int, total: int) -> list[str]:
    """Human lines that show the arithmetic, e.g. ``20 images × 5 repeats × 10 epochs ÷ batch 4 = 250 steps``."""
    folders = [f for f in inp.folders if f.images > 0]
    bt = _batch_text(inp)
    lines: list[str] = []
    one_bucket = inp.bucket_samples is None or len([n for n in inp.bucket_samples if n]) <= 1
    if inp.epochs > 0 and len(folders) == 1 and one_bucket and not inp.reg_images:
        f = folders[0]
        line = f"{f.images} images × {f.repeats} repeats × {epochs} epochs ÷ {bt} = {total} steps"
        if (f.images * f.repeats) % (inp.batch_size * max(1, inp.gpus)):
            line += f" (each epoch rounds up to {spe} steps)"
        return [line]
    for f in folders:
        per = math.ceil(f.images * f.repeats / (inp.batch_size * max(1, inp.gpus)))
        lines.append(f"{f.name}: {f.images} images × {f.repeats} repeats ÷ {bt} = {per} steps per epoch")
    if inp.bucket_samples is not None:
        n_buckets = len([n for n in inp.bucket_samples if n])
        reg = f" with {inp.reg_images} regularization samples" if inp.reg_images else ""
        lines.append(f"grouped{reg} into {n_buckets} aspect-ratio bucket{'s' if n_buckets != 1 else ''}, "
                     f"each batch from one bucket: {spe} steps per epoch")
    elif inp.reg_images:
        lines.append(f"regularization images double it: {spe} steps per epoch")
    if inp.epochs > 0:
        lines.append(f"{spe} steps per epoch × {epochs} epochs = {total} steps")
    else:
        lines.append(f"max_train_steps = {total} steps ≈ {epochs} epochs of {spe} steps")
    return lines


def _issues(p: Plan) -> list[Issue]:
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


def vram_for(inp: PlanInput) -> VramEstimate:
    """:func:`estimate_vram` for a plan's input (and so for a project's settings)."""
    return estimate_vram(
        family=inp.family, resolution=inp.resolution, batch_size=inp.batch_size, network_dim=inp.network_dim,
        conv_dim=inp.conv_dim, network_type=inp.network_type, dora=inp.dora, mixed_precision=inp.mixed_precision,
        gradient_checkpointing=inp.gradient_checkpointing, optimizer=inp.optimizer,
        train_text_encoder=inp.trains_text_encoder, cache_latents=inp.cache_latents, fp8_base=inp.fp8_base,
        text_encoders_cached=inp.text_encoders_cached)


def plan_from_settings(settings: Settings, folders: list[FolderCount], *, gpus: int = 1,
                       reg_images: int = 0, bucket_samples: tuple[int, ...] | None = None,
                       it_per_s: float | None = None, model: ModelInfo | None = None) -> Plan:
    """A plan from a project's settings and its folder counts (and what the base model says, when read)."""
    return make_plan(PlanInput.from_settings(settings, folders, gpus=gpus, reg_images=reg_images,
                                             bucket_samples=bucket_samples, it_per_s=it_per_s, model=model))


def plan_for_project(project: Project, *, settings: Settings | None = None, gpus: int = 1,
                     it_per_s: float | None = None) -> Plan:
    """The plan for a :class:`~tui_lora.core.project.Project` as it is on disk now.

    Image sizes are read from the image headers and grouped into the trainer's aspect-ratio
    buckets (one bucket when bucketing is off), with regularization samples balanced as kohya
    does, so the steps per epoch are exactly the trainer's.
    ``it_per_s`` defaults to the speed of the project's last training run, when there was one.
    """
    from tui_lora.core.events import read_events
    from tui_lora.core.train.layout import resolve_reg_dir, scan_layout

    s = settings or project.settings
    folders = [FolderCount(c.folder, len(c.images()), c.repeats) for c in project.concepts()]
    reg_root = resolve_reg_dir(project.root, s.dataset.reg_data_dir)
    layout = scan_layout(project.dataset_dir, s.dataset, reg_dir=reg_root)
    if it_per_s is None:
        speeds = [e["it_per_s"] for e in read_events(project.events_path)
                  if e.get("event") == "step" and isinstance(e.get("it_per_s"), (int, float))]
        it_per_s = speeds[-1] if speeds else None
    return plan_from_settings(s, folders, gpus=gpus, reg_images=layout.reg_samples,
                              bucket_samples=layout.bucket_samples(), it_per_s=it_per_s,
                              model=model_info(s.model.pretrained_model_name_or_path))
