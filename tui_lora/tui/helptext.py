"""What ``?`` explains: a sentence or two per parameter, the why as the community guides put it.

Settings keys take their text from ``tui_lora.core.settings.KEYS`` (the same words the preset
files and ``tui-lora --help`` use); :data:`PLAIN` adds a beginner's reading where the schema's
sentence assumes kohya jargon, and :data:`FIELDS` explains the wizard's fields that are not keys.
"""

from __future__ import annotations

from tui_lora.core import settings as S

# Extra plain-language sentences appended to a key's schema help.
PLAIN: dict[str, str] = {
    "training.max_train_epochs": "Each epoch saves a LoRA file (see save_every_n_epochs), so you can pick "
                                 "the best one in Compare instead of guessing the right length up front.",
    "training.train_batch_size": "Start with 2 at 512 px on an 8 GB card; if VRAM allows, 4 trains faster.",
    "network.network_dim": "The file is about 1 MB per unit of dim on SD1.5 (about 3.5 MB on SDXL).",
    "network.network_alpha": "Keep alpha at half of dim unless a guide says otherwise.",
    "training.unet_lr": "Written in scientific notation: 5e-4 means 0.0005. If samples look fried, halve it.",
    "training.text_encoder_lr": "0 freezes the text encoder (the same as training the UNet only).",
    "training.optimizer_type": "AdamW8bit is the safe default; Prodigy is good when you do not want to tune "
                               "rates (then set both rates to 1.0).",
}

# Fields of the wizard that are not project.toml keys.
FIELDS: dict[str, tuple[str, str]] = {
    "repeats": ("Repeats",
                "How often each image is shown per epoch. It lives in the folder name, kohya-style: "
                "dataset/10_ohwx means 10 repeats, so changing it renames the folder. With few images "
                "raise repeats rather than epochs; images × repeats ≈ 200-400 per epoch is typical."),
    "steps": ("Total steps",
              "images × repeats × epochs ÷ batch. This, not epochs alone, decides how much the LoRA "
              "learns; the planner warns when it is far from the usual range for this kind of LoRA."),
    "vram": ("VRAM estimate",
             "Peak GPU memory the run needs (weights, the LoRA and its optimizer, activations). If it "
             "exceeds your card: lower the batch, turn on gradient_checkpointing, or lower resolution."),
    "folder": ("Folder",
               "Where the project lives: project.toml, dataset/, output/ and logs/. It must be new or empty; "
               "~ means your home folder and relative paths start from where you ran tui-lora."),
    "name": ("Name", "The project's name and the default name of its LoRA files; empty uses the folder's name."),
    "preset": ("Preset",
               "A starting point with community-guide values for one family and kind of LoRA; everything "
               "stays editable and the Steps screen shows what you changed."),
    "base_model": ("Base model",
                   "A Hugging Face repo id (owner/name), a diffusers folder or a .safetensors checkpoint. "
                   "Its family (SD1.5 or SDXL) is read from local models and guessed from a repo's name; "
                   "train on the model you will generate with."),
    "trigger": ("Trigger word",
                "A rare word (ohwx, sks, or a made-up name) that the LoRA binds your subject to; type it in "
                "prompts later. Leave it empty for a style that should apply without a word."),
    "open_path": ("Project folder", "A folder holding project.toml, made by `tui-lora new` or this wizard."),
}


def explain(item: str) -> tuple[str, str]:
    """(title, text) for a settings key (``section.name``) or a field of :data:`FIELDS`."""
    if item in FIELDS:
        return FIELDS[item]
    k = S.key(item)
    text = k.help
    if item in PLAIN:
        text += " " + PLAIN[item]
    allowed = k.describe_allowed()
    default = k.default if not isinstance(k.default, str) or k.default else '""'
    return f"{k.name}  ({item})", f"{text} Allowed: {allowed}; default {default}."
