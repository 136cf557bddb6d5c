"""The schema of project.toml, declared once as typed, frozen section classes.

Each ``[section]`` is a frozen dataclass (:class:`TrainingSettings` …) whose fields are its keys:
the field's type is the key's kind, its default the default, and :func:`~.schema.setting` adds the
help text (what the wizard's ``?`` shows: the why, as the community guides put it) and the allowed
values (choices of optimizer, scheduler, network type and sampler come from :mod:`.registry`).
:class:`Settings` holds one of each; :data:`KEYS` is derived from the classes and drives validation,
``--set`` parsing and the docs. Keys use kohya sd-scripts' names; validation errors name the key,
the bad value and what is allowed, in one sentence.
"""

# No ``from __future__ import annotations`` here: the fields' types are read at import (they are
# the keys' kinds), and real type objects cost nothing to read where strings would be evaluated.
import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tui_lora.core.errors import ChangeInput, ConfigError, Fix, Given, Words
from tui_lora.core.registry import networks, optimizers, samplers, schedulers
from tui_lora.core.schema import (BOOL, CHOICE, FLOAT, INT, OVERRIDE, STR, STR_LIST, Key, Section, coerce, parse_text,
                                  setting)

__all__ = [
    "BOOL", "CHOICE", "FLOAT", "INT", "STR", "STR_LIST", "DEFAULT_JUNK_TAGS", "KEYS", "KEY_INDEX", "OPTIMIZERS",
    "SAMPLERS", "SCHEDULERS", "SECTIONS", "DatasetSettings", "Key", "ModelSettings", "NetworkSettings", "Override",
    "OVERRIDE", "OutputSettings", "ProjectSettings", "SampleSettings", "Settings", "TagsSettings", "TrainingSettings",
    "coerce", "key", "parse_override", "parse_text",
]

OPTIMIZERS = optimizers.NAMES
SCHEDULERS = schedulers.NAMES
SAMPLERS = samplers.NAMES

# Booru metadata that says nothing about the picture; training on it only wastes tokens.
DEFAULT_JUNK_TAGS: tuple[str, ...] = (
    "absurdres", "highres", "incredibly absurdres", "huge filesize",
    "commentary request", "commentary", "*commentary*", "translated", "translation request",
    "*request", "tagme", "bad id", "bad * id", "md5 mismatch", "artist name", "watermark",
    "sample watermark", "signature", "dated", "web address", "twitter username",
    "patreon username", "pixiv id", "artist logo",
)


@dataclass(frozen=True)
class ProjectSettings(Section):
    """[project]: what the LoRA is and what it started from."""

    SECTION: ClassVar[str] = "project"
    name: str = setting("", "The project's name; also the default output file name.")
    trigger_word: str = setting(
        "", "A rare word put first in every caption so the LoRA learns to bind the subject to it; "
            "you type it in your prompts later.")
    family: Literal["sd15", "sdxl"] = setting(
        "sd15", "The base model family, detected from the model: SD1.x (512 px) or SDXL (1024 px).")
    preset: str = setting("", "The preset this project started from; the wizard shows what differs.")
    subject: Literal["character", "style", "concept"] = setting(
        "character", "What the LoRA teaches: a character/person, an art style, or a concept; it sets the "
                     "step range the planner considers sensible.")


@dataclass(frozen=True)
class ModelSettings(Section):
    """[model]: the base model the LoRA is trained on."""

    SECTION: ClassVar[str] = "model"
    pretrained_model_name_or_path: str = setting(
        "", "The base model: a Hugging Face repo id, a local diffusers folder, or a single .safetensors "
            "checkpoint. Train on the model you will generate with (or its ancestor).")
    v_parameterization: bool = setting(
        False, "True for v-prediction models (SD2.x 768, some SDXL finetunes); detected from the model's "
               "scheduler config when possible.")
    zero_terminal_snr: bool = setting(
        False, "Rescale the noise schedule to zero terminal SNR (kohya's --zero_terminal_snr), as v-prediction "
               "models like NoobAI-XL v-pred were trained; needs v_parameterization. Detected from the model "
               "when it says so; samples then use trailing timesteps and the rescaled schedule.")
    vae: str = setting(
        "", "An optional separate VAE (repo id, folder or file); SDXL's stock VAE overflows in fp16, "
            "so an fp16-fixed VAE or bf16 avoids NaNs.")
    allow_pickle: bool = setting(
        False, "Allow a .ckpt / .pt base model. Those are Python pickles that can run code when loaded: "
               "prefer .safetensors, and turn this on only for files from a source you trust.")


@dataclass(frozen=True)
class DatasetSettings(Section):
    """[dataset]: how images and captions are read, bucketed and cached."""

    SECTION: ClassVar[str] = "dataset"
    resolution: int = setting(
        512, "Training resolution (the side of a square bucket): 512 for SD1.5, 1024 for SDXL. "
             "Higher costs VRAM and time quadratically.", minimum=64, maximum=4096)
    enable_bucket: bool = setting(
        True, "Aspect-ratio bucketing: images train at their own aspect ratio instead of being cropped "
              "square, so nothing important gets cut off.")
    min_bucket_reso: int = setting(256, "The smallest bucket side in pixels.", minimum=64, maximum=4096)
    max_bucket_reso: int = setting(
        1024, "The largest bucket side in pixels; keeps very wide or tall images from making huge buckets.",
        minimum=64, maximum=8192)
    bucket_reso_steps: int = setting(
        64, "Bucket sides are multiples of this; 64 is what SD and SDXL expect.", minimum=8, maximum=256)
    bucket_no_upscale: bool = setting(
        False, "Never upscale small images into a larger bucket; they get a smaller bucket instead, "
               "which avoids blur from upscaling.")
    caption_extension: str = setting(
        ".txt", "File extension of the captions next to each image (kohya convention: .txt).")
    shuffle_caption: bool = setting(
        True, "Shuffle comma-separated tags every step so the model does not learn their order; "
              "keep_tokens protects the first ones (your trigger word).")
    keep_tokens: int = setting(
        1, "How many leading tags stay in place when captions are shuffled or dropped; 1 keeps the "
           "trigger word first.", minimum=0, maximum=255)
    flip_aug: bool = setting(
        False, "Randomly mirror images. Doubles variety for styles, but breaks asymmetric characters "
               "(a hair parting, an eyepatch, a logo).")
    caption_dropout_rate: float = setting(
        0.0, "Chance to train a step with an empty caption; a little (0.05) helps the LoRA work "
             "without the exact tags.", minimum=0.0, maximum=1.0)
    cache_latents: bool = setting(
        True, "Encode every image with the VAE once before training and drop the VAE from the GPU: "
              "faster and less VRAM (random crop and color augmentations are then off).")
    cache_latents_to_disk: bool = setting(
        False, "Keep cached latents in .cache/ so the next run (or a resume) skips encoding.")
    cache_text_encoder_outputs: bool = setting(
        False, "Encode every caption once and move the frozen text encoders off the GPU (SDXL UNet-only "
               "saves about 1.5 GB). Only possible when captions never change between steps: "
               "shuffle_caption off, caption_dropout_rate 0, text encoders not trained.")
    reg_data_dir: str = setting(
        "", "Optional folder of regularization images (generic pictures of the class) that keep the "
            "LoRA from overwriting the class itself; doubles the steps.")
    prior_loss_weight: float = setting(
        1.0, "Weight of the regularization images' loss.", minimum=0.0, maximum=10.0)


@dataclass(frozen=True)
class NetworkSettings(Section):
    """[network]: what the LoRA trains and at which rank."""

    SECTION: ClassVar[str] = "network"
    network_type: str = setting(
        "lora", "lora trains attention and feed-forward layers; locon also trains the convolutions "
                "(ResNet blocks), which helps styles and textures; loha (LyCORIS) packs a style into a small "
                "dim; lokr (LyCORIS) makes the smallest files.", choices=networks.NAMES)
    dora: bool = setting(
        False, "DoRA (weight-decomposed LoRA) for lora and locon: also learns each output row's magnitude, "
               "which keeps fine detail at the same dim, for about 30 % more time and memory. Loads in "
               "ComfyUI, Forge and LyCORIS; AUTOMATIC1111 applies it wrongly.")
    lokr_factor: int = setting(
        -1, "LoKr only: the side of its small full matrix (LyCORIS's factor); -1 picks the most balanced split "
            "of each layer, larger values give smaller files.", minimum=-1, maximum=1024)
    network_dim: int = setting(
        16, "LoRA rank: capacity of the LoRA and its file size. 8-32 is plenty for a character; "
            "more memorises noise.", minimum=1, maximum=1024)
    network_alpha: float = setting(
        8.0, "Scales the LoRA's effect by alpha/dim; half of dim is the common choice. "
             "A lower alpha needs a higher learning rate.", minimum=0.0, maximum=1024.0)
    conv_dim: int = setting(8, "Rank of the 3×3 convolution layers (locon, loha, lokr); 0 leaves them out.",
                            minimum=0, maximum=1024)
    conv_alpha: float = setting(4.0, "Alpha of the convolution layers (locon, loha, lokr).", minimum=0.0,
                                maximum=1024.0)
    network_train_unet_only: bool = setting(
        False, "Train only the UNet, not the text encoder(s). Standard for SDXL (its text encoders are "
               "big and easy to break); saves VRAM.")


@dataclass(frozen=True)
class TrainingSettings(Section):
    """[training]: the optimizer, the schedule and the training maths."""

    SECTION: ClassVar[str] = "training"
    optimizer_type: str = setting(
        "AdamW8bit", "AdamW8bit is AdamW with 8-bit states (less VRAM, same results). "
                     f"{' and '.join(optimizers.SELF_TUNING)} find the learning rate themselves: set the rates "
                     "to 1.0.", choices=optimizers.NAMES)
    optimizer_args: list[str] = setting(
        [], "Extra optimizer arguments as key=value strings, e.g. [\"weight_decay=0.01\", "
            "\"decouple=True\"] for Prodigy.")
    unet_lr: float = setting(
        5e-4, "Learning rate of the UNet LoRA: how big each update is. Too high burns the image, too "
              "low learns nothing.", minimum=0.0, maximum=10.0)
    text_encoder_lr: float = setting(
        1e-4, "Learning rate of the text encoder LoRA; usually a fifth to a half of unet_lr because "
              "the text encoder overfits fast.", minimum=0.0, maximum=10.0)
    lr_scheduler: str = setting(
        "cosine_with_restarts", "How the learning rate changes over the run; cosine variants end gently, which "
                                "gives cleaner late epochs.", choices=schedulers.NAMES)
    lr_scheduler_num_cycles: int = setting(1, "Restarts for cosine_with_restarts.", minimum=1, maximum=100)
    lr_scheduler_power: float = setting(1.0, "Power of the polynomial scheduler.", minimum=0.0, maximum=10.0)
    lr_warmup_ratio: float = setting(
        0.0, "Share of the steps spent ramping the learning rate up from zero; a few percent avoids "
             "an early jolt.", minimum=0.0, maximum=1.0)
    lr_warmup_steps: int = setting(0, "Warmup in steps; when above 0 it wins over lr_warmup_ratio.", minimum=0)
    train_batch_size: int = setting(
        2, "Images per step (per GPU). Bigger batches smooth the updates but cost VRAM; steps per "
           "epoch shrink accordingly.", minimum=1, maximum=256)
    max_train_epochs: int = setting(
        10, "How many times the whole dataset (with repeats) is seen. When above 0 it wins over "
            "max_train_steps, as in kohya.", minimum=0, maximum=10000)
    max_train_steps: int = setting(
        0, "Total steps, used when max_train_epochs is 0.", minimum=0, maximum=10_000_000)
    mixed_precision: Literal["no", "fp16", "bf16"] = setting(
        "fp16", "bf16 on RTX 30xx / A100 / H100 and newer (no overflow); fp16 on older cards; no for "
                "full fp32 (CPU).")
    gradient_checkpointing: bool = setting(
        False, "Recompute activations in the backward pass: much less VRAM for about 20-30 % more time.")
    seed: int = setting(42, "Random seed; the same seed and data give the same LoRA.", minimum=0, maximum=2**32 - 1)
    noise_offset: float = setting(
        0.0, "Adds a small constant to the noise so the model can learn very dark and very bright "
             "images; 0.03-0.1 typical.", minimum=0.0, maximum=1.0)
    multires_noise_iterations: int = setting(
        0, "Pyramid (multi-resolution) noise levels; 6-10 gives richer contrast. 0 is off.", minimum=0, maximum=20)
    multires_noise_discount: float = setting(
        0.3, "How fast the pyramid noise fades per level; 0.3 for LoRA.", minimum=0.0, maximum=1.0)
    min_snr_gamma: float = setting(
        0.0, "Min-SNR loss weighting: stops the easy low-noise steps from dominating; 5 speeds up "
             "convergence. 0 is off.", minimum=0.0, maximum=100.0)
    loss_type: Literal["l2", "l1", "huber", "smooth_l1"] = setting(
        "l2", "The loss (kohya's --loss_type): l2 (mean squared error) is the standard; huber and smooth_l1 "
              "weigh outliers less, which helps with noisy or mixed-quality datasets.")
    huber_schedule: Literal["snr", "exponential", "constant"] = setting(
        "snr", "How huber / smooth_l1 set their threshold per timestep: snr (kohya's default) is squared-error-like "
               "at low noise and robust at high noise; constant uses huber_c throughout.")
    huber_c: float = setting(
        0.1, "The Huber threshold (kohya's --huber_c): below it the loss is quadratic, above it linear.",
        minimum=0.0001, maximum=1.0)
    huber_scale: float = setting(
        1.0, "Scales the Huber threshold of the exponential and constant schedules (kohya's --huber_scale).",
        minimum=0.0001, maximum=100.0)
    debiased_estimation_loss: bool = setting(
        False, "Weight each step's loss by 1/√SNR (1/(SNR+1) for v-prediction), kohya's debiased estimation: "
               "less weight on the easy low-noise steps, often crisper detail. An alternative to min_snr_gamma.")
    ip_noise_gamma: float = setting(
        0.0, "Input perturbation noise: the noisy input gets this much extra noise the target does not know of, "
             "a regulariser against overfitting; 0.1 is the paper's value. 0 is off.", minimum=0.0, maximum=1.0)
    clip_skip: int = setting(
        1, "Use the text encoder's n-th last layer. 2 for anime models descended from NovelAI, "
           "1 for realistic SD1.5; ignored for SDXL.", minimum=1, maximum=12)
    max_token_length: int = setting(
        75, "Longest caption in tokens; 150 or 225 encodes long captions in 75-token chunks.",
        allowed=(75, 150, 225))
    max_grad_norm: float = setting(
        1.0, "Clips the gradient norm to tame spikes; 0 is off.", minimum=0.0, maximum=1000.0)
    # Speed levers (tui_lora.core.speed): how fast a step runs, not what it learns (but fp8_base / low_vram).
    allow_tf32: bool = setting(
        True, "Let fp32 matrix products and convolutions use TensorFloat-32 on Ampere and newer GPUs (RTX 30xx, "
              "A100, H100): much faster, with fp16-like rounding, as PyTorch recommends for training. No effect "
              "on the CPU or older GPUs.")
    fused_optimizer: bool = setting(
        True, "Update all LoRA weights with torch's fused AdamW kernel (on the GPU, and the CPU with torch "
              "2.4+) or a few batched ones (foreach, elsewhere) instead of one small update per tensor. "
              "8-bit optimizers, Prodigy and the others keep their own update.")
    torch_compile: Literal["off", "blocks"] = setting(
        "off", "blocks compiles each transformer and ResNet block of the UNet with torch.compile: faster "
               "steps after a compile of a minute or more at the start (each new bucket size compiles once "
               "more). off until measured on a GPU (benchmarks/RESULTS.md).")
    channels_last: bool = setting(
        False, "Lay out the UNet's and the VAE's images channels-last, the layout GPU tensor cores prefer for "
               "fp16/bf16 convolutions. off until measured on a GPU (benchmarks/RESULTS.md).")
    fp8_base: bool = setting(
        False, "Keep the frozen UNet's weights in 8 bits (fp8 on RTX 40xx / H100 and newer and on the CPU, "
               "int8 on older GPUs), widened per layer while it runs: half the UNet's VRAM, slightly "
               "rounded weights; turns on gradient_checkpointing too. The LoRA itself trains in full "
               "precision. kohya's --fp8_base.")
    low_vram: bool = setting(
        False, "SDXL on 8-12 GB cards: turns on fp8_base, gradient_checkpointing and 8-bit optimizer states "
               "(AdamW becomes AdamW8bit) for the run; slower steps, far less VRAM.")


@dataclass(frozen=True)
class SampleSettings(Section):
    """[sample]: sample images rendered during training."""

    SECTION: ClassVar[str] = "sample"
    prompts: list[str] = setting(
        [], "Prompts for sample images during training, in kohya's line format: "
            "prompt --n negative --w 512 --h 512 --d seed --l cfg --s steps --ss sampler. "
            "Without --d a prompt uses training.seed plus its position, so every epoch starts from the same noise.")
    prompt_file: str = setting(
        "", "A text file of sample prompts, one per line in the same format (kohya's --sample_prompts); "
            "# starts a comment. A relative path is inside the project folder. Used with sample.prompts.")
    sample_every_n_epochs: int = setting(
        0, "Render the sample prompts every n epochs so you can watch the LoRA learn; 0 is off.", minimum=0)
    sample_at_first: bool = setting(False, "Also render samples before the first step, as a baseline.")
    guidance_rescale: float = setting(
        0.0, "CFG rescale (diffusers' guidance_rescale, the zero-terminal-SNR paper's fix for over-exposed "
             "images at high CFG): 0.7 for zero_terminal_snr models, 0 otherwise.", minimum=0.0, maximum=1.0)
    sampler: str = setting(
        "euler_a", "The sampler for sample images and comparison grids (kohya's names): euler_a is Euler a, "
                   "dpmsolver++ is DPM++ 2M Karras, ddim is DDIM.", choices=samplers.NAMES)


@dataclass(frozen=True)
class OutputSettings(Section):
    """[output]: the LoRA files written."""

    SECTION: ClassVar[str] = "output"
    output_name: str = setting("", "Base name of the LoRA files; empty means the project name.")
    save_every_n_epochs: int = setting(
        1, "Save a LoRA file every n epochs, so you can pick the best epoch later; 0 saves only "
           "the final one.", minimum=0)
    save_precision: Literal["float", "fp16", "bf16"] = setting(
        "fp16", "Precision of the saved file: fp16 halves the size with no visible loss; float keeps fp32.")


@dataclass(frozen=True)
class TagsSettings(Section):
    """[tags]: the auto-tagger and the junk-tag list."""

    SECTION: ClassVar[str] = "tags"
    tagger: Literal["wd14", "blip"] = setting(
        "wd14", "The auto-tagger: wd14 writes booru tags (anime, illustrations); blip writes one "
                "natural-language sentence (photos, realistic datasets).")
    tagger_model: str = setting(
        "", "The tagger model: a Hugging Face repo id or a local folder (WD14: model.onnx + "
            "selected_tags.csv). Empty means SmilingWolf/wd-eva02-large-tagger-v3 for wd14 and "
            "Salesforce/blip-image-captioning-large for blip.")
    threshold: float = setting(
        0.35, "WD14 confidence needed to write a general tag; lower gives more (and noisier) tags, "
              "higher gives fewer, surer ones.", minimum=0.0, maximum=1.0)
    character_threshold: float = setting(
        0.85, "WD14 confidence needed to write a character (or copyright/artist) name; kept high "
              "because a wrong name teaches the LoRA the wrong identity.", minimum=0.0, maximum=1.0)
    junk_tags: list[str] = setting(
        list(DEFAULT_JUNK_TAGS),
        "Tags that describe the file or the website, not the picture; `tui-lora tags --junk` "
        "removes them. Glob patterns work (* and ?), e.g. \"*commentary*\".")


@dataclass(frozen=True)
class Settings(Mapping[str, Section]):
    """Every setting of a project, one typed section each. Frozen: change with :meth:`with_values`
    (or :func:`dataclasses.replace`). Reads by section name too (``settings["training"]``)."""

    project: ProjectSettings = field(default_factory=ProjectSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    tags: TagsSettings = field(default_factory=TagsSettings)

    def __getitem__(self, section: str) -> Section:
        if section not in SECTIONS:
            raise KeyError(section)
        return getattr(self, section)

    def __iter__(self) -> Iterator[str]:
        return iter(SECTIONS)

    def __len__(self) -> int:
        return len(SECTIONS)

    # ----- reading and writing -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "project.toml") -> "Settings":
        """Check a parsed project.toml (or a run's saved settings); missing keys take their defaults."""
        values: dict[str, Any] = {}
        for section, table in data.items():
            if section not in SECTIONS:
                raise ConfigError(*_unknown_key_message(section + "."), where=where)
            if not isinstance(table, Mapping):
                raise ConfigError(f"[{section}] must be a table of settings, not a single value",
                                  Fix(f"write it as a [{section}] header with keys below it"), where=where)
            for name, value in table.items():
                k = KEY_INDEX.get(f"{section}.{name}")
                if k is None:
                    raise ConfigError(*_unknown_key_message(f"{section}.{name}"), where=where)
                values[k.dotted] = coerce(k, value, where=where)
        out = cls().with_values(values)
        out.check(where=where)
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain ``{section: {key: value}}``, as project.toml and state.json hold them."""
        return {name: self[name].to_dict() for name in SECTIONS}

    def value(self, k: Key) -> Any:
        return getattr(getattr(self, k.section), k.name)

    def with_values(self, values: Mapping[str, Any]) -> "Settings":
        """A copy with ``{"section.key": value}`` replaced; the values must already be checked
        (:func:`coerce`), the two-key rules are for :meth:`check`."""
        by_section: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            k = key(dotted)
            by_section.setdefault(k.section, {})[k.name] = value
        return dataclasses.replace(self, **{s: dataclasses.replace(self[s], **kv) for s, kv in by_section.items()})

    def with_overrides(self, overrides: list[str]) -> "Settings":
        """A copy with ``section.key=value`` overrides, validated the same way as the file."""
        out = self.with_values({ov.key.dotted: ov.value for ov in map(parse_override, overrides)})
        out.check(where=OVERRIDE)
        return out

    def check(self, *, where: str | Given = "project.toml") -> None:
        """Rules that involve two keys at once."""
        d, t, n = self.dataset, self.training, self.network
        if n.lokr_factor == 0:
            raise ConfigError("network.lokr_factor = 0 is not a factor",
                              Fix("use -1 (auto) or a size such as 4, 8 or 16"), where=where)
        if d.min_bucket_reso > d.max_bucket_reso:
            raise ConfigError(
                f"dataset.min_bucket_reso = {d.min_bucket_reso} is larger than dataset.max_bucket_reso = "
                f"{d.max_bucket_reso}", Fix("make the minimum smaller than the maximum"), where=where)
        if t.max_train_epochs == 0 and t.max_train_steps == 0:
            raise ConfigError("training.max_train_epochs and training.max_train_steps are both 0",
                              Fix("set one of them (e.g. max_train_epochs = 10)"), where=where)


SECTION_CLASSES: tuple[type[Section], ...] = tuple(f.type for f in dataclasses.fields(Settings))  # type: ignore[misc]
SECTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))
KEYS: tuple[Key, ...] = tuple(k for cls in SECTION_CLASSES for k in cls.schema())
KEY_INDEX: dict[str, Key] = {k.dotted: k for k in KEYS}
KEY_INDEX_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def key(dotted: str) -> Key:
    """Look up a key by ``section.name``; unknown names raise a ConfigError with a suggestion."""
    try:
        return KEY_INDEX[dotted]
    except KeyError:
        raise ConfigError(*_unknown_key_message(dotted)) from None


def _unknown_key_message(dotted: str) -> tuple[str, Fix]:
    """(problem, fix) for an unknown section or key, with the nearest known name."""
    section, _, name = dotted.partition(".")
    if section not in SECTIONS:
        guess = difflib.get_close_matches(section, SECTIONS, n=1)
        hint = f"did you mean [{guess[0]}]?" if guess else "sections are " + ", ".join(SECTIONS)
        return f"Unknown section [{section}]", Fix(hint)
    names = [k.name for k in KEYS if k.section == section]
    guess = difflib.get_close_matches(name, names, n=1)
    if guess:
        hint = f"did you mean {section}.{guess[0]}?"
    else:
        guess = difflib.get_close_matches(name, [k.name for k in KEYS], n=1)
        hint = (f"did you mean {KEY_INDEX_BY_NAME[guess[0]].dotted}?" if guess
                else f"[{section}] has {', '.join(names)}")
    return f"Unknown key {section}.{name}", Fix(hint)


@dataclass
class Override:
    key: Key
    value: Any
    text: str = field(default="")


def parse_override(text: str) -> Override:
    """Parse ``section.key=value`` into a checked Override."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or "." not in name:
        raise ConfigError(Words("{} is not of the form section.key=value", Given("override", repr(text))),
                          Fix("{}", ChangeInput("override", "training.unet_lr=1e-4", verb="write e.g.")))
    k = key(name)
    return Override(k, parse_text(k, raw, where=OVERRIDE), text)
