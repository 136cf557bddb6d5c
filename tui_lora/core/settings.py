"""The schema of project.toml: every key, its type, default, allowed values and why it matters.

Keys use kohya sd-scripts' names so users coming from kohya recognise every knob.
The ``help`` text is what the wizard's ``?`` shows: the why, as the community guides put it.
Validation errors name the key, the bad value and what is allowed, in one sentence.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from tui_lora.core.errors import ChangeInput, ConfigError, Fix, Given, Words

OVERRIDE = Given("override")  # where a --set style override was read

# Kinds a value can have. "choice" is a string from ``choices``.
STR, INT, FLOAT, BOOL, CHOICE, STR_LIST = "str", "int", "float", "bool", "choice", "list[str]"


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # Integers only: allowed values (e.g. max_token_length 75/150/225).
    allowed: tuple[int, ...] = ()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    def describe_allowed(self) -> str:
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices)
        if self.allowed:
            return "one of " + ", ".join(str(a) for a in self.allowed)
        if self.kind == BOOL:
            return "true or false"
        if self.kind == STR_LIST:
            return "a list of strings"
        if self.kind == STR:
            return "a string"
        noun = "a whole number" if self.kind == INT else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{noun} from {_fmt(lo)} to {_fmt(hi)}"
        if lo is not None:
            return f"{noun} of at least {_fmt(lo)}"
        if hi is not None:
            return f"{noun} of at most {_fmt(hi)}"
        return noun


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


OPTIMIZERS = ("AdamW", "AdamW8bit", "Lion", "Lion8bit", "Prodigy", "DAdaptAdam", "Adafactor")
SCHEDULERS = (
    "constant",
    "constant_with_warmup",
    "cosine",
    "cosine_with_restarts",
    "linear",
    "polynomial",
)
# kohya's sampler names (sample_sampler); the trainer maps them onto diffusers schedulers.
SAMPLERS = (
    "ddim",
    "pndm",
    "lms",
    "euler",
    "euler_a",
    "heun",
    "dpm_2",
    "dpm_2_a",
    "dpmsolver",
    "dpmsolver++",
    "dpmsingle",
    "k_lms",
    "k_euler",
    "k_euler_a",
    "k_dpm_2",
    "k_dpm_2_a",
)

# Booru metadata that says nothing about the picture; training on it only wastes tokens.
DEFAULT_JUNK_TAGS: tuple[str, ...] = (
    "absurdres", "highres", "incredibly absurdres", "huge filesize",
    "commentary request", "commentary", "*commentary*", "translated", "translation request",
    "*request", "tagme", "bad id", "bad * id", "md5 mismatch", "artist name", "watermark",
    "sample watermark", "signature", "dated", "web address", "twitter username",
    "patreon username", "pixiv id", "artist logo",
)

_K = Key
KEYS: tuple[Key, ...] = (
    # [project]
    _K("project", "name", STR, "", "The project's name; also the default output file name."),
    _K("project", "trigger_word", STR, "",
       "A rare word put first in every caption so the LoRA learns to bind the subject to it; "
       "you type it in your prompts later."),
    _K("project", "family", CHOICE, "sd15",
       "The base model family, detected from the model: SD1.x (512 px) or SDXL (1024 px).",
       choices=("sd15", "sdxl")),
    _K("project", "preset", STR, "", "The preset this project started from; the wizard shows what differs."),
    _K("project", "subject", CHOICE, "character",
       "What the LoRA teaches: a character/person, an art style, or a concept; it sets the "
       "step range the planner considers sensible.",
       choices=("character", "style", "concept")),
    # [model]
    _K("model", "pretrained_model_name_or_path", STR, "",
       "The base model: a Hugging Face repo id, a local diffusers folder, or a single .safetensors "
       "checkpoint. Train on the model you will generate with (or its ancestor)."),
    _K("model", "v_parameterization", BOOL, False,
       "True for v-prediction models (SD2.x 768, some SDXL finetunes); detected from the model's "
       "scheduler config when possible."),
    _K("model", "vae", STR, "",
       "An optional separate VAE (repo id, folder or file); SDXL's stock VAE overflows in fp16, "
       "so an fp16-fixed VAE or bf16 avoids NaNs."),
    _K("model", "allow_pickle", BOOL, False,
       "Allow a .ckpt / .pt base model. Those are Python pickles that can run code when loaded: "
       "prefer .safetensors, and turn this on only for files from a source you trust."),
    # [dataset]
    _K("dataset", "resolution", INT, 512,
       "Training resolution (the side of a square bucket): 512 for SD1.5, 1024 for SDXL. "
       "Higher costs VRAM and time quadratically.", minimum=64, maximum=4096),
    _K("dataset", "enable_bucket", BOOL, True,
       "Aspect-ratio bucketing: images train at their own aspect ratio instead of being cropped "
       "square, so nothing important gets cut off."),
    _K("dataset", "min_bucket_reso", INT, 256, "The smallest bucket side in pixels.",
       minimum=64, maximum=4096),
    _K("dataset", "max_bucket_reso", INT, 1024,
       "The largest bucket side in pixels; keeps very wide or tall images from making huge buckets.",
       minimum=64, maximum=8192),
    _K("dataset", "bucket_reso_steps", INT, 64,
       "Bucket sides are multiples of this; 64 is what SD and SDXL expect.", minimum=8, maximum=256),
    _K("dataset", "bucket_no_upscale", BOOL, False,
       "Never upscale small images into a larger bucket; they get a smaller bucket instead, "
       "which avoids blur from upscaling."),
    _K("dataset", "caption_extension", STR, ".txt",
       "File extension of the captions next to each image (kohya convention: .txt)."),
    _K("dataset", "shuffle_caption", BOOL, True,
       "Shuffle comma-separated tags every step so the model does not learn their order; "
       "keep_tokens protects the first ones (your trigger word)."),
    _K("dataset", "keep_tokens", INT, 1,
       "How many leading tags stay in place when captions are shuffled or dropped; 1 keeps the "
       "trigger word first.", minimum=0, maximum=255),
    _K("dataset", "flip_aug", BOOL, False,
       "Randomly mirror images. Doubles variety for styles, but breaks asymmetric characters "
       "(a hair parting, an eyepatch, a logo)."),
    _K("dataset", "caption_dropout_rate", FLOAT, 0.0,
       "Chance to train a step with an empty caption; a little (0.05) helps the LoRA work "
       "without the exact tags.", minimum=0.0, maximum=1.0),
    _K("dataset", "cache_latents", BOOL, True,
       "Encode every image with the VAE once before training and drop the VAE from the GPU: "
       "faster and less VRAM (random crop and color augmentations are then off)."),
    _K("dataset", "cache_latents_to_disk", BOOL, False,
       "Keep cached latents in .cache/ so the next run (or a resume) skips encoding."),
    _K("dataset", "cache_text_encoder_outputs", BOOL, False,
       "Encode every caption once and move the frozen text encoders off the GPU (SDXL UNet-only "
       "saves about 1.5 GB). Only possible when captions never change between steps: "
       "shuffle_caption off, caption_dropout_rate 0, text encoders not trained."),
    _K("dataset", "reg_data_dir", STR, "",
       "Optional folder of regularization images (generic pictures of the class) that keep the "
       "LoRA from overwriting the class itself; doubles the steps."),
    _K("dataset", "prior_loss_weight", FLOAT, 1.0,
       "Weight of the regularization images' loss.", minimum=0.0, maximum=10.0),
    # [network]
    _K("network", "network_type", CHOICE, "lora",
       "lora trains attention and feed-forward layers; locon also trains the convolutions "
       "(ResNet blocks), which helps styles and textures.",
       choices=("lora", "locon")),
    _K("network", "network_dim", INT, 16,
       "LoRA rank: capacity of the LoRA and its file size. 8-32 is plenty for a character; "
       "more memorises noise.", minimum=1, maximum=1024),
    _K("network", "network_alpha", FLOAT, 8.0,
       "Scales the LoRA's effect by alpha/dim; half of dim is the common choice. "
       "A lower alpha needs a higher learning rate.", minimum=0.0, maximum=1024.0),
    _K("network", "conv_dim", INT, 8, "Rank of the convolution layers (LoCon only).",
       minimum=0, maximum=1024),
    _K("network", "conv_alpha", FLOAT, 4.0, "Alpha of the convolution layers (LoCon only).",
       minimum=0.0, maximum=1024.0),
    _K("network", "network_train_unet_only", BOOL, False,
       "Train only the UNet, not the text encoder(s). Standard for SDXL (its text encoders are "
       "big and easy to break); saves VRAM."),
    # [training]
    _K("training", "optimizer_type", CHOICE, "AdamW8bit",
       "AdamW8bit is AdamW with 8-bit states (less VRAM, same results). Prodigy and DAdaptAdam "
       "find the learning rate themselves: set the rates to 1.0.",
       choices=OPTIMIZERS),
    _K("training", "optimizer_args", STR_LIST, [],
       "Extra optimizer arguments as key=value strings, e.g. [\"weight_decay=0.01\", "
       "\"decouple=True\"] for Prodigy.") ,
    _K("training", "unet_lr", FLOAT, 5e-4,
       "Learning rate of the UNet LoRA: how big each update is. Too high burns the image, too "
       "low learns nothing.", minimum=0.0, maximum=10.0),
    _K("training", "text_encoder_lr", FLOAT, 1e-4,
       "Learning rate of the text encoder LoRA; usually a fifth to a half of unet_lr because "
       "the text encoder overfits fast.", minimum=0.0, maximum=10.0),
    _K("training", "lr_scheduler", CHOICE, "cosine_with_restarts",
       "How the learning rate changes over the run; cosine variants end gently, which gives "
       "cleaner late epochs.", choices=SCHEDULERS),
    _K("training", "lr_scheduler_num_cycles", INT, 1,
       "Restarts for cosine_with_restarts.", minimum=1, maximum=100),
    _K("training", "lr_scheduler_power", FLOAT, 1.0, "Power of the polynomial scheduler.",
       minimum=0.0, maximum=10.0),
    _K("training", "lr_warmup_ratio", FLOAT, 0.0,
       "Share of the steps spent ramping the learning rate up from zero; a few percent avoids "
       "an early jolt.", minimum=0.0, maximum=1.0),
    _K("training", "lr_warmup_steps", INT, 0,
       "Warmup in steps; when above 0 it wins over lr_warmup_ratio.", minimum=0),
    _K("training", "train_batch_size", INT, 2,
       "Images per step (per GPU). Bigger batches smooth the updates but cost VRAM; steps per "
       "epoch shrink accordingly.", minimum=1, maximum=256),
    _K("training", "max_train_epochs", INT, 10,
       "How many times the whole dataset (with repeats) is seen. When above 0 it wins over "
       "max_train_steps, as in kohya.", minimum=0, maximum=10000),
    _K("training", "max_train_steps", INT, 0,
       "Total steps, used when max_train_epochs is 0.", minimum=0, maximum=10_000_000),
    _K("training", "mixed_precision", CHOICE, "fp16",
       "bf16 on RTX 30xx / A100 / H100 and newer (no overflow); fp16 on older cards; no for "
       "full fp32 (CPU).", choices=("no", "fp16", "bf16")),
    _K("training", "gradient_checkpointing", BOOL, False,
       "Recompute activations in the backward pass: much less VRAM for about 20-30 % more time."),
    _K("training", "seed", INT, 42, "Random seed; the same seed and data give the same LoRA.",
       minimum=0, maximum=2**32 - 1),
    _K("training", "noise_offset", FLOAT, 0.0,
       "Adds a small constant to the noise so the model can learn very dark and very bright "
       "images; 0.03-0.1 typical.", minimum=0.0, maximum=1.0),
    _K("training", "multires_noise_iterations", INT, 0,
       "Pyramid (multi-resolution) noise levels; 6-10 gives richer contrast. 0 is off.",
       minimum=0, maximum=20),
    _K("training", "multires_noise_discount", FLOAT, 0.3,
       "How fast the pyramid noise fades per level; 0.3 for LoRA.", minimum=0.0, maximum=1.0),
    _K("training", "min_snr_gamma", FLOAT, 0.0,
       "Min-SNR loss weighting: stops the easy low-noise steps from dominating; 5 speeds up "
       "convergence. 0 is off.", minimum=0.0, maximum=100.0),
    _K("training", "clip_skip", INT, 1,
       "Use the text encoder's n-th last layer. 2 for anime models descended from NovelAI, "
       "1 for realistic SD1.5; ignored for SDXL.", minimum=1, maximum=12),
    _K("training", "max_token_length", INT, 75,
       "Longest caption in tokens; 150 or 225 encodes long captions in 75-token chunks.",
       allowed=(75, 150, 225)),
    _K("training", "max_grad_norm", FLOAT, 1.0,
       "Clips the gradient norm to tame spikes; 0 is off.", minimum=0.0, maximum=1000.0),
    # [sample]
    _K("sample", "prompts", STR_LIST, [],
       "Prompts for sample images during training, in kohya's line format: "
       "prompt --n negative --w 512 --h 512 --d seed --l cfg --s steps --ss sampler. "
       "Without --d a prompt uses training.seed plus its position, so every epoch starts from the same noise."),
    _K("sample", "prompt_file", STR, "",
       "A text file of sample prompts, one per line in the same format (kohya's --sample_prompts); "
       "# starts a comment. A relative path is inside the project folder. Used with sample.prompts."),
    _K("sample", "sample_every_n_epochs", INT, 0,
       "Render the sample prompts every n epochs so you can watch the LoRA learn; 0 is off.",
       minimum=0),
    _K("sample", "sample_at_first", BOOL, False,
       "Also render samples before the first step, as a baseline."),
    _K("sample", "sampler", CHOICE, "euler_a",
       "The sampler for sample images and comparison grids (kohya's names): euler_a is Euler a, "
       "dpmsolver++ is DPM++ 2M Karras, ddim is DDIM.",
       choices=SAMPLERS),
    # [output]
    _K("output", "output_name", STR, "",
       "Base name of the LoRA files; empty means the project name."),
    _K("output", "save_every_n_epochs", INT, 1,
       "Save a LoRA file every n epochs, so you can pick the best epoch later; 0 saves only "
       "the final one.", minimum=0),
    _K("output", "save_precision", CHOICE, "fp16",
       "Precision of the saved file: fp16 halves the size with no visible loss; float keeps fp32.",
       choices=("float", "fp16", "bf16")),
    # [tags]
    _K("tags", "tagger", CHOICE, "wd14",
       "The auto-tagger: wd14 writes booru tags (anime, illustrations); blip writes one "
       "natural-language sentence (photos, realistic datasets).", choices=("wd14", "blip")),
    _K("tags", "tagger_model", STR, "",
       "The tagger model: a Hugging Face repo id or a local folder (WD14: model.onnx + "
       "selected_tags.csv). Empty means SmilingWolf/wd-eva02-large-tagger-v3 for wd14 and "
       "Salesforce/blip-image-captioning-large for blip."),
    _K("tags", "threshold", FLOAT, 0.35,
       "WD14 confidence needed to write a general tag; lower gives more (and noisier) tags, "
       "higher gives fewer, surer ones.", minimum=0.0, maximum=1.0),
    _K("tags", "character_threshold", FLOAT, 0.85,
       "WD14 confidence needed to write a character (or copyright/artist) name; kept high "
       "because a wrong name teaches the LoRA the wrong identity.", minimum=0.0, maximum=1.0),
    _K("tags", "junk_tags", STR_LIST, list(DEFAULT_JUNK_TAGS),
       "Tags that describe the file or the website, not the picture; `tui-lora tags --junk` "
       "removes them. Glob patterns work (* and ?), e.g. \"*commentary*\"."),
)

SECTIONS: tuple[str, ...] = ("project", "model", "dataset", "network", "training", "sample", "output", "tags")
KEY_INDEX: dict[str, Key] = {k.dotted: k for k in KEYS}


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
                else f"see the preset files for the keys of [{section}]")
    return f"Unknown key {section}.{name}", Fix(hint)


KEY_INDEX_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def defaults() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for k in KEYS:
        out[k.section][k.name] = list(k.default) if isinstance(k.default, list) else k.default
    return out


def coerce(k: Key, value: Any, *, where: str | Given = "project.toml") -> Any:
    """Check ``value`` against ``k`` and return it normalised (ints as float for float keys…)."""

    def bad(reason: str | None = None) -> ConfigError:
        shown = repr(value)
        what = reason or f"it must be {k.describe_allowed()}"
        return ConfigError(f"{k.dotted} = {shown} is not allowed", Fix(what), where=where)

    if k.kind == BOOL:
        if not isinstance(value, bool):
            raise bad()
        return value
    if k.kind in (STR, CHOICE):
        if not isinstance(value, str):
            raise bad()
        if k.kind == CHOICE:
            for c in k.choices:
                if c.lower() == value.lower():
                    return c
            raise bad()
        return value
    if k.kind == STR_LIST:
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad()
        return list(value)
    if k.kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad()
        if k.allowed and value not in k.allowed:
            raise bad()
    elif k.kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
        if not math.isfinite(value):
            raise bad()
    if k.minimum is not None and value < k.minimum:
        raise bad()
    if k.maximum is not None and value > k.maximum:
        raise bad()
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_text(k: Key, text: str, *, where: str | Given = OVERRIDE) -> Any:
    """Turn the text of an override (``--set training.unet_lr=1e-4``) into a checked value."""
    raw = text.strip()
    value: Any
    if k.kind == BOOL:
        low = raw.lower()
        if low in _TRUE:
            value = True
        elif low in _FALSE:
            value = False
        else:
            raise ConfigError(f"{k.dotted} = {text!r} is not allowed", Fix("it must be true or false"), where=where)
    elif k.kind == INT:
        try:
            f = float(raw)
        except ValueError:
            raise ConfigError(f"{k.dotted} = {text!r} is not a number", Fix(f"it must be {k.describe_allowed()}"),
                              where=where) from None
        if not f.is_integer():
            raise ConfigError(f"{k.dotted} = {text!r} is not allowed", Fix(f"it must be {k.describe_allowed()}"),
                              where=where)
        value = int(f)
    elif k.kind == FLOAT:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{k.dotted} = {text!r} is not a number", Fix(f"it must be {k.describe_allowed()}"),
                              where=where) from None
    elif k.kind == STR_LIST:
        value = [] if not raw else [p.strip() for p in raw.split("|" if "|" in raw else ",")]
    else:
        value = raw
    return coerce(k, value, where=where)


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
