"""The planner's data: what it reads (:class:`FolderCount`, :class:`PlanInput`) and what it answers
(:class:`Plan` with its :class:`Issue` list).

:meth:`PlanInput.from_settings` turns a project's typed settings into the planner's words, with the
schema's defaults for anything built by hand. Apart from the arithmetic (:mod:`.plan`) and the
warnings (:mod:`.plan_checks`) because both read these shapes and the shapes grow with every setting
the planner learns about, while the maths does not. Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tui_lora.core.settings import Settings
from tui_lora.core.speed import text_encoders_cached, with_low_vram
from tui_lora.core.vram import VramEstimate

if TYPE_CHECKING:
    from tui_lora.core.models import ModelInfo

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
