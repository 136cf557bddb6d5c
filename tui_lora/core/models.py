"""Recognise a base model reference and its family without importing torch.

A reference is a Hugging Face repo id, a local diffusers folder, or a single checkpoint file.
Local models are classified exactly (model_index.json / unet config / safetensors header);
a repo id is classified from a table of well-known repos and its name, and the trainer
confirms the family once the model is downloaded.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from tui_lora.core.errors import ChangeInput, Fix, UserError
from tui_lora.core.hub import is_repo_id, looks_like_path

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
ONLY_SD = Fix("tui-lora trains SD1.5 and SDXL models only")

# Repos a beginner is likely to type; anything else falls back to the name heuristic.
KNOWN_REPOS: dict[str, str] = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": "sd15",
    "runwayml/stable-diffusion-v1-5": "sd15",
    "compvis/stable-diffusion-v1-4": "sd15",
    "stabilityai/stable-diffusion-xl-base-1.0": "sdxl",
    "stabilityai/sdxl-turbo": "sdxl",
}

DEFAULT_BASE_MODELS: dict[str, str] = {
    "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
}


@dataclass(frozen=True)
class ModelInfo:
    ref: str
    kind: str  # "repo" | "folder" | "file"
    family: str | None  # "sd15" | "sdxl" | None when it cannot be told yet
    v_prediction: bool | None = None
    detected: bool = False  # True when read from the model itself, not guessed from a name
    zero_terminal_snr: bool | None = None  # None: the model does not say

    def detected_text(self) -> str:
        """What was read from the model about its noise schedule, for people ("" when nothing)."""
        said = []
        if self.v_prediction is not None:
            said.append("v-prediction" if self.v_prediction else "epsilon prediction")
        if self.zero_terminal_snr:
            said.append("zero terminal SNR")
        return ", ".join(said)

    @property
    def is_pickle(self) -> bool:
        return self.kind == "file" and Path(self.ref).suffix.lower() != ".safetensors"


def inspect_model(ref: str) -> ModelInfo:
    """Classify ``ref``; raise UserError for a missing path or an unsupported model."""
    ref = ref.strip()
    if not ref:
        raise UserError("No base model given", Fix("{}: a repo id, a diffusers folder or a .safetensors file",
                                                   ChangeInput("base_model")))
    path = Path(ref).expanduser()
    if path.exists():
        if path.is_dir():
            return _inspect_folder(path)
        return _inspect_file(path)
    if looks_like_path(ref):
        raise UserError(f"The base model path {ref} does not exist",
                        Fix(f"check the path or give a Hugging Face repo id such as {DEFAULT_BASE_MODELS['sd15']}"))
    if not is_repo_id(ref):
        raise UserError(f"{ref!r} is neither an existing path nor a Hugging Face repo id (owner/name)",
                        Fix(f"give one of those, e.g. {DEFAULT_BASE_MODELS['sdxl']}"))
    family = KNOWN_REPOS.get(ref.lower())
    if family is None:
        family = "sdxl" if re.search(r"xl|illustrious|pony|noob", ref, re.I) else None
    return ModelInfo(ref, "repo", family, None, detected=False)


def _inspect_folder(path: Path) -> ModelInfo:
    index = path / "model_index.json"
    unet_cfg = path / "unet" / "config.json"
    if not index.is_file() and not unet_cfg.is_file():
        raise UserError(f"{path} is not a diffusers model folder (no model_index.json)",
                        Fix("{} at the folder that holds model_index.json, or at a single .safetensors checkpoint",
                            ChangeInput("base_model", verb="point")))
    family = None
    if index.is_file():
        cls = str(_read_json(index).get("_class_name", ""))
        if "XL" in cls:
            family = "sdxl"
        elif cls.startswith("StableDiffusion") and "3" not in cls:
            family = "sd15"
    if unet_cfg.is_file():
        cfg = _read_json(unet_cfg)
        cross = cfg.get("cross_attention_dim")
        by_unet = {768: "sd15", 2048: "sdxl"}.get(cross) if isinstance(cross, int) else None
        if cfg.get("addition_embed_type") == "text_time":
            by_unet = "sdxl"
        family = by_unet or family
        if family is None and isinstance(cross, int):
            raise UserError(f"{path} is not an SD1.x or SDXL model (cross-attention width {cross})", ONLY_SD)
    if family is None:
        raise UserError(f"{path} is not an SD1.x or SDXL model", ONLY_SD)
    v_pred = ztsnr = None
    sched = path / "scheduler" / "scheduler_config.json"
    if sched.is_file():
        config = _read_json(sched)
        v_pred = config.get("prediction_type") == "v_prediction"
        ztsnr = bool(config.get("rescale_betas_zero_snr", False))
    return ModelInfo(str(path), "folder", family, v_pred, detected=True, zero_terminal_snr=ztsnr)


def _inspect_file(path: Path) -> ModelInfo:
    suffix = path.suffix.lower()
    if suffix not in SINGLE_FILE_SUFFIXES:
        raise UserError(f"{path.name} is not a model checkpoint",
                        Fix("give a .safetensors file, a diffusers folder or a repo id"))
    if suffix != ".safetensors":
        # Pickle files cannot be inspected without running them; the trainer asks for consent.
        return ModelInfo(str(path), "file", None, None, detected=False)
    keys, meta = read_safetensors_header(path)
    family, v_pred = family_from_checkpoint_keys(keys, meta)
    if family is None:
        raise UserError(f"{path.name} is not an SD1.x or SDXL checkpoint (is it a LoRA or an SD2/SD3/Flux model?)",
                        Fix("tui-lora trains on SD1.5 and SDXL base checkpoints"))
    return ModelInfo(str(path), "file", family, v_pred, detected=True,
                     zero_terminal_snr=zero_terminal_snr_from_checkpoint(keys))


def read_safetensors_header(path: Path) -> tuple[list[str], dict[str, str]]:
    """Tensor names and ``__metadata__`` of a .safetensors file, reading only its header."""
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n <= 0 or n > 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
    except (OSError, ValueError, struct.error) as exc:
        raise UserError(f"{path.name} is not a readable .safetensors file ({exc})", Fix("re-download it")) from None
    meta = header.pop("__metadata__", {}) or {}
    return list(header), {str(k): str(v) for k, v in meta.items()}


def family_from_checkpoint_keys(keys: list[str], meta: dict[str, str]) -> tuple[str | None, bool | None]:
    """Family and v-prediction from an original (ldm/sgm) single-file checkpoint's tensor names."""
    keyset = keys
    has = lambda prefix: any(k.startswith(prefix) for k in keyset)  # noqa: E731 - a one-line predicate read like a word below
    family = None
    if has("conditioner.embedders.1.model.") or has("conditioner.embedders.0.transformer."):
        family = "sdxl"
    elif has("cond_stage_model.transformer.") and has("model.diffusion_model."):
        family = "sd15"
    elif has("model.diffusion_model.") and has("cond_stage_model.model."):
        family = None  # SD2.x (OpenCLIP): not supported
    v_pred: bool | None = None
    pred = meta.get("modelspec.prediction_type", "")
    if pred:
        v_pred = pred.startswith("v")
    if "v_pred" in keyset:
        v_pred = True
    return family, v_pred


def zero_terminal_snr_from_checkpoint(keys: list[str]) -> bool | None:
    """True when a single-file checkpoint carries the marker tensor ``ztsnr`` (NoobAI-XL v-pred and the
    models merged from it ship ``v_pred`` and ``ztsnr`` as empty tensors); None when it says nothing."""
    return True if "ztsnr" in keys else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc})", Fix("restore the file or re-download the model")) from None
    return data if isinstance(data, dict) else {}


def check_base_model(ref: str, family: str) -> ModelInfo:
    """``ref`` inspected as for a new project, for a project of ``family``: a model known to be of the
    other family is refused (the project's resolution and learning rates are set for its own)."""
    def family_label(name: str) -> str:  # (as core.project's, which imports this module)
        return {"sd15": "SD1.5", "sdxl": "SDXL"}.get(name, name)

    info = inspect_model(ref)
    if info.family and info.detected and info.family != family:
        raise UserError(f"This is an {family_label(info.family)} model but the project is {family_label(family)} "
                        "(its resolution and learning rates are set for that)",
                        Fix(f"give an {family_label(family)} model, or make a new project with an {info.family} "
                            "preset"))
    return info


def change_base_model(project, ref: str) -> ModelInfo:
    """Point ``project`` at the base model ``ref`` (checked as :func:`check_base_model`) and save
    project.toml: a repo id as given, a local folder or file by its full path, v-prediction as detected."""
    info = check_base_model(ref, project.family)
    value = info.ref if info.kind == "repo" else str(Path(info.ref).expanduser().resolve())
    project.set("model.pretrained_model_name_or_path", value)
    if info.v_prediction is not None:
        project.set("model.v_parameterization", info.v_prediction)
    project.save()
    return info
