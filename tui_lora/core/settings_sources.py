"""The sections of project.toml that say what a LoRA is made from: [project], [model], [dataset], [tags].

Each is a frozen :class:`~.schema.Section` dataclass whose fields are its keys (type = kind, default,
help text and allowed values via :func:`~.schema.setting`); :class:`~.settings.Settings` holds one of
each and derives the key index from them. They are apart from the training sections
(:mod:`.settings_training`) so that the schema, over 300 lines of keys and their help, is read and
grown one group at a time: these change when the inputs do (a new bucket or caption option, a tagger).
"""

# No ``from __future__ import annotations`` here: the fields' types are read at import (they are
# the keys' kinds), and real type objects cost nothing to read where strings would be evaluated.
from dataclasses import dataclass
from typing import ClassVar, Literal

from tui_lora.core.schema import Section, setting

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
