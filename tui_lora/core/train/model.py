"""Load the base model: a Hugging Face repo id, a local diffusers folder or a single checkpoint.

The family (SD1.x / SDXL) and v-prediction are read from the model itself. Repo ids are
downloaded once (only the files training needs, with the hub's progress bars) into the
Hugging Face cache; single files go through diffusers' ``from_single_file``. ``.ckpt`` /
``.pt`` files are pickles that can run code, so they load only with ``model.allow_pickle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import ChangeSetting, Fix, ModelNotCached, UserError
from tui_lora.core.models import (
    ONLY_SD,
    family_from_checkpoint_keys,
    inspect_model,
    read_safetensors_header,
    zero_terminal_snr_from_checkpoint,
)

MODEL_KEY = "model.pretrained_model_name_or_path"

if TYPE_CHECKING:
    import torch

# What training reads from a diffusers repo: no safety checker, no duplicate fp16 / .bin / .ckpt weights.
REPO_PATTERNS = [
    "model_index.json",
    "scheduler/*.json",
    "tokenizer/*", "tokenizer_2/*",
    "unet/config.json", "vae/config.json", "text_encoder/config.json", "text_encoder_2/config.json",
    "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model-*.safetensors",
    "unet/diffusion_pytorch_model.safetensors.index.json",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors", "text_encoder/model-*.safetensors", "text_encoder/model.safetensors.index.json",
    "text_encoder_2/model.safetensors", "text_encoder_2/model-*.safetensors",
    "text_encoder_2/model.safetensors.index.json",
]


@dataclass
class BaseModel:
    ref: str
    kind: str  # repo | folder | file
    family: str  # sd15 | sdxl
    v_prediction: bool | None  # None: the model does not say
    unet: Any
    vae: Any
    text_encoders: list
    tokenizers: list
    scheduler_config: dict = field(default_factory=dict)
    zero_terminal_snr: bool | None = None  # None: the model does not say

    @property
    def name(self) -> str:
        """What kohya writes as ss_sd_model_name: a repo id, or a local file / folder name."""
        return self.ref if self.kind == "repo" else Path(self.ref).name


def family_of(unet_config: dict, n_text_encoders: int) -> str | None:
    """sd15 / sdxl from a loaded UNet's config, or None for anything else (SD2, SD3, inpainting…)."""
    if unet_config.get("in_channels", 4) != 4:
        return None  # inpainting / depth models
    if unet_config.get("addition_embed_type") == "text_time":
        return "sdxl" if n_text_encoders == 2 else None
    if unet_config.get("addition_embed_type") is None and n_text_encoders == 1:
        if unet_config.get("cross_attention_dim") == 1024 or unet_config.get("use_linear_projection"):
            return None  # SD2.x
        return "sd15"
    return None


def _download(repo_id: str, log: Callable[[str], None]) -> Path:
    from huggingface_hub import snapshot_download

    from tui_lora.core.hub import download_failure, local_only, quiet_hub

    offline = local_only()  # no network: straight to the cache, without 25 s of retries
    if not offline:
        log(f"fetching {repo_id} from Hugging Face (once; later runs use the local cache)")
    try:
        with quiet_hub():
            folder = Path(snapshot_download(repo_id, allow_patterns=REPO_PATTERNS, local_files_only=offline))
    except Exception as exc:
        failure = download_failure(exc, repo_id, local_fix=Fix("{} to a local diffusers folder or .safetensors file",
                                                               ChangeSetting(MODEL_KEY)))
        if failure is None:
            raise
        raise failure from None
    if not (folder / "model_index.json").is_file() or not (folder / "unet" / "config.json").is_file():
        raise UserError(f"{repo_id} is not a diffusers model repo (no model_index.json / unet)",
                        Fix("download its .safetensors checkpoint and {} at the file",
                            ChangeSetting(MODEL_KEY, verb="point")))
    if not any((folder / "unet").glob("diffusion_pytorch_model*.safetensors")):
        raise UserError(f"{repo_id} has no .safetensors UNet weights",
                        Fix("use a repo with safetensors weights, or its single-file .safetensors checkpoint"))
    return folder


def _read_scheduler_config(folder: Path) -> dict:
    p = folder / "scheduler" / "scheduler_config.json"
    try:
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    except (OSError, ValueError):
        return {}


def _load_folder(folder: Path, dtype) -> tuple[Any, Any, list, list, dict]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=dtype)
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")  # fp32: encoding precision matters
    tokenizers = [CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")]
    text_encoders = [CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", torch_dtype=dtype)]
    if (folder / "text_encoder_2").is_dir():
        tokenizers.append(CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer_2"))
        text_encoders.append(CLIPTextModelWithProjection.from_pretrained(folder, subfolder="text_encoder_2",
                                                                         torch_dtype=dtype))
    return unet, vae, text_encoders, tokenizers, _read_scheduler_config(folder)


def _pickle_keys(path: Path) -> tuple[list[str], dict[str, str]]:
    from diffusers.loaders.single_file_utils import load_single_file_checkpoint

    try:
        sd = load_single_file_checkpoint(str(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure on a user's file is one sentence
        raise UserError(f"{path.name} could not be read safely ({type(exc).__name__})",
                        Fix("convert it to .safetensors and train on that")) from None
    return list(sd), {}


def _load_file(path: Path, family: str, dtype, config: str | None) -> tuple[Any, Any, list, list, dict]:
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    from tui_lora.core.hub import local_only

    kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if config:
        kwargs["config"] = config
    else:
        kwargs["local_files_only"] = local_only()
    if family == "sd15":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = cls.from_single_file(str(path), **kwargs)
    except OSError as exc:
        from huggingface_hub.errors import LocalEntryNotFoundError

        if isinstance(exc, LocalEntryNotFoundError) or "offline" in str(exc).lower():
            raise ModelNotCached(
                f"Loading {path.name} needs the {'SDXL' if family == 'sdxl' else 'SD1.5'} config files (a few MB) from "
                "the Hugging Face hub once, and the hub is unreachable",
                Fix("connect once, or convert the checkpoint to a diffusers folder and train on that")) from None
        raise
    tes = [pipe.text_encoder] + ([pipe.text_encoder_2] if family == "sdxl" else [])
    toks = [pipe.tokenizer] + ([pipe.tokenizer_2] if family == "sdxl" else [])
    vae = pipe.vae if pipe.vae.dtype == torch.float32 else pipe.vae.to(dtype=torch.float32)
    return pipe.unet, vae, tes, toks, dict(pipe.scheduler.config)


def _load_vae(ref: str, log: Callable[[str], None]):
    """A separate VAE: a .safetensors file, a folder (a VAE or a whole pipeline), or a repo id."""
    from diffusers import AutoencoderKL

    path = Path(ref).expanduser()
    try:
        if path.is_file():
            return AutoencoderKL.from_single_file(str(path))
        if path.is_dir():
            sub = "vae" if (path / "vae" / "config.json").is_file() else None
            return AutoencoderKL.from_pretrained(path, subfolder=sub)
        if inspect_model(ref).kind == "repo":
            from tui_lora.core.hub import local_only

            log(f"loading the VAE {ref}")
            return AutoencoderKL.from_pretrained(ref, local_files_only=local_only())
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - diffusers raises many types for a bad VAE; one sentence
        raise UserError(f"Cannot load the VAE {ref} ({type(exc).__name__}: {_short(exc)})",
                        Fix("{} or leave it empty to use the base model's VAE",
                            ChangeSetting("model.vae", verb="fix"))) from None
    raise UserError(f"The VAE {ref} does not exist",
                    Fix("{} or leave it empty", ChangeSetting("model.vae", verb="fix")))


def load_base_model(ref: str, *, vae: str = "", allow_pickle: bool = False, dtype: torch.dtype | None = None,
                    single_file_config: str | None = None,
                    log: Callable[[str], None] = lambda m: None,
                    warn: Callable[[str], None] = lambda m: None) -> BaseModel:
    """Load and classify the base model; every failure is a one-sentence UserError."""
    import torch

    dtype = dtype or torch.float32
    info = inspect_model(ref)
    v_pred, ztsnr = info.v_prediction, info.zero_terminal_snr
    try:
        if info.kind == "repo":
            folder = _download(info.ref, log)
            unet, vae_m, tes, toks, sched = _load_folder(folder, dtype)
        elif info.kind == "folder":
            unet, vae_m, tes, toks, sched = _load_folder(Path(info.ref), dtype)
        else:
            path = Path(info.ref)
            family = info.family
            if info.is_pickle:
                if not allow_pickle:
                    raise UserError(f"{path.name} is a pickle checkpoint, which can run code when loaded",
                                    Fix("convert it to .safetensors, or {} if you trust where it came from",
                                        ChangeSetting("model.allow_pickle", "true")))
                warn(f"Loading the pickle checkpoint {path.name} because model.allow_pickle is on; only do this "
                     "with files you trust.")
                keys, meta = _pickle_keys(path)
                family, v_pred = family_from_checkpoint_keys(keys, meta)
                ztsnr = zero_terminal_snr_from_checkpoint(keys)
                if family is None:
                    raise UserError(f"{path.name} is not an SD1.x or SDXL checkpoint", ONLY_SD)
            else:
                keys, meta = read_safetensors_header(path)
                _f, v_pred = family_from_checkpoint_keys(keys, meta)
            log(f"loading {path.name}")
            unet, vae_m, tes, toks, sched = _load_file(path, family, dtype, single_file_config)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - diffusers raises many kinds for a broken model
        raise UserError(f"Cannot load the base model {ref} ({type(exc).__name__}: {_short(exc)})",
                        Fix("check that it is a complete SD1.5 or SDXL model")) from None
    family = family_of(dict(unet.config), len(tes))
    if family is None:
        raise UserError(f"{ref} is not an SD1.x or SDXL model", ONLY_SD)
    if info.kind != "file" and sched.get("prediction_type"):
        # A single file's scheduler config is diffusers' default, not the model's: trust only its header there.
        v_pred = sched["prediction_type"] == "v_prediction"
        ztsnr = bool(sched.get("rescale_betas_zero_snr", False))
    if vae:
        vae_m = _load_vae(vae, log)
    return BaseModel(info.ref, info.kind, family, v_pred, unet, vae_m, tes, toks, sched, ztsnr)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:200]
