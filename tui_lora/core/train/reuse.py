"""What several runs in one process share (a sweep's variants): the loaded base model and the cached
latents, so each variant does not load the model and encode the dataset again.

- :class:`ModelShare` keeps one base model for as long as the variants need the same one (same
  model, VAE and load precision); :func:`release_network` puts it back as it was loaded after a run
  (the injected LoRA layers out, accelerate's precision wrapper off, gradient checkpointing off).
  A run whose speed levers change the model itself (8-bit base weights, compiled blocks,
  channels-last) hands it back unusable: the next variant loads a fresh one (:func:`alters_model`).
- :class:`~.latents.LatentShare` (in :mod:`.latents`) keeps one latent cache; a run reuses it when its
  images, buckets, flip setting and VAE are the same, else builds and keeps its own.

The model's LoRA starts from the same seeded initialisation either way, so a variant trained on a
shared model gives the same file as the same settings trained alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from tui_lora.core.settings import Settings
    from tui_lora.core.train.model import BaseModel


def load_dtype(settings: Settings, device: str) -> torch.dtype:
    """The dtype the trainer loads the base model in (fp16 falls back to fp32 on the CPU)."""
    import torch

    from tui_lora.core.train.device import DTYPES

    mp = settings.training.mixed_precision
    if device == "cpu" and mp == "fp16":
        mp = "no"
    return getattr(torch, DTYPES[mp])


def model_key(settings: Settings, device: str) -> tuple:
    m = settings.model
    return (m.pretrained_model_name_or_path, m.vae, m.allow_pickle, str(load_dtype(settings, device)))


class ModelShare:
    """One base model kept between runs; another model (or precision) replaces it."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.model: BaseModel | None = None
        self.loads = 0  # how many times a model was loaded (a sweep reports it; tests check it)

    def get(self, settings: Settings, device: str, *, log: Callable[[str], None] = lambda m: None,
            warn: Callable[[str], None] = lambda m: None) -> BaseModel:
        from tui_lora.core.train.model import load_base_model

        key = model_key(settings, device)
        if self.model is None or key != self.key:
            self.model = None  # the previous one can be freed before the next loads
            m = settings.model
            self.model = load_base_model(m.pretrained_model_name_or_path, vae=m.vae, allow_pickle=m.allow_pickle,
                                         dtype=load_dtype(settings, device), log=log, warn=warn)
            self.key = key
            self.loads += 1
        return self.model

    def drop(self) -> None:
        self.model, self.key = None, None

    def give_back(self, settings: Settings) -> None:
        """After a run with ``settings``: the model back as loaded, or dropped when the run altered it."""
        if self.model is None:
            return
        if alters_model(settings):
            self.drop()
        else:
            release_network(self.model)


def alters_model(settings: Settings) -> bool:
    """Whether a run changes the base model beyond the LoRA it injects: fp8_base (or low_vram) stores the
    UNet's weights in 8 bits, torch_compile compiles its blocks in place, channels_last re-lays its
    convolutions. Such a model is not shared with the next variant."""
    from tui_lora.core.speed import with_low_vram

    t = with_low_vram(settings).training
    return bool(t.fp8_base or t.torch_compile != "off" or t.channels_last)


def release_network(base: BaseModel) -> None:
    """Undo what a run did to the shared model: every peft layer replaced by the layer it wraps, its
    config removed, accelerate's autocast wrapper of ``forward`` removed, gradient checkpointing
    off, no gradients. The weights themselves were never trained, so they are as loaded."""
    for model in (base.unet, *base.text_encoders):
        _unwrap_forward(model)
        _remove_tuner_layers(model)
        if hasattr(model, "peft_config"):
            del model.peft_config
        if hasattr(model, "disable_gradient_checkpointing"):  # diffusers
            model.disable_gradient_checkpointing()
        elif hasattr(model, "activation_checkpointing_disable"):  # transformers 5 (the old name warns)
            model.activation_checkpointing_disable()
        elif hasattr(model, "gradient_checkpointing_disable"):
            model.gradient_checkpointing_disable()
        model.requires_grad_(False)
        model.eval()
    base.vae.requires_grad_(False)


def _unwrap_forward(model: Any) -> None:
    """accelerate.prepare() with mixed precision puts an autocast ``forward`` on the instance and keeps
    the one it replaced as ``_original_forward``: the class's method (drop the instance's) or a hook's."""
    original = model.__dict__.pop("_original_forward", None)
    if original is None:
        return
    if getattr(original, "__func__", None) is getattr(type(model), "forward", None):
        model.__dict__.pop("forward", None)
    else:
        model.forward = original


def _remove_tuner_layers(model: Any) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    outer = []
    for name, module in model.named_modules():
        if isinstance(module, BaseTunerLayer) and not any(name.startswith(o + ".") for o, _ in outer):
            outer.append((name, module))
    for name, module in outer:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.get_base_layer())
