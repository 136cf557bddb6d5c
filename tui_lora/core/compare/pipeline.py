"""The base model loaded once, with saved LoRA files applied one at a time, as webui applies them.

A LoRA / LoCon file goes through diffusers' ``load_lora_weights`` (the kohya keys and alphas, exactly
what a webui / ComfyUI / diffusers user loads) as a named adapter; ``set_adapters`` sets its weight on
the UNet and the text encoders alike (webui's ``<lora:name:0.8>``). LoHa, LoKr and DoRA files, which
diffusers cannot load, are merged into the weights as ComfyUI and LyCORIS do (:mod:`.merge`), the
originals put back before the next file or weight. Only one file is applied at a time, and the
no-LoRA image is rendered with none, so nothing leaks from one cell into another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.errors import ChangeInput, ChangeSetting, Fix, Given, UserError
from tui_lora.core.sample_prompts import SamplePrompt

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline
    from PIL import Image

    from tui_lora.core.project import Project
    from tui_lora.core.train.model import BaseModel


class ComparePipeline:
    def __init__(self, *, pipe: DiffusionPipeline, base: BaseModel, family: str, device: torch.device, clip_skip: int,
                 v_prediction: bool, zero_terminal_snr: bool = False, guidance_rescale: float = 0.0) -> None:
        self.pipe = pipe
        self.base = base
        self.family = family
        self.device = device
        self.clip_skip = clip_skip
        self.v_prediction = v_prediction
        self.zero_terminal_snr = zero_terminal_snr
        self.guidance_rescale = guidance_rescale
        self._adapter: tuple[Path, str] | None = None
        self._count = 0
        self._merger = None  # merge.WeightMerger, made on the first LoHa / LoKr / DoRA file
        self._merged: tuple[Path, float] | None = None  # the file and weight merged in now
        self._merge_file: tuple[Path, dict] | None = None  # its tensors, read once per file

    @classmethod
    def load(cls, project: Project, *, base_model: str | None = None, device: str | None = None,
             log: Callable[[str], None] = lambda m: None, warn: Callable[[str], None] = lambda m: None
             ) -> "ComparePipeline":
        """Load the project's base model (repo id, folder or single file) through the trainer's loader."""
        import torch

        from tui_lora.core.train.model import load_base_model
        from tui_lora.core.train.pipeline import build_pipeline, make_scheduler
        from tui_lora.core.train.device import quiet_libraries, resolve_device

        quiet_libraries()
        settings = project.settings
        m = settings.model
        if device:
            dev = resolve_device(device)
        else:
            dev = "cuda" if torch.cuda.is_available() else "cpu"
            if dev == "cpu":
                warn("No CUDA GPU found; rendering on the CPU, which takes minutes per image for real SD1.5 / "
                     "SDXL models.")
        dtype = torch.float16 if dev.startswith("cuda") else torch.float32
        ref = base_model or m.pretrained_model_name_or_path
        if not ref:
            raise UserError("project.toml has no base model",
                            Fix("{} or {}", ChangeSetting("model.pretrained_model_name_or_path"),
                                ChangeInput("base_model")))
        base = load_base_model(ref, vae=m.vae, allow_pickle=m.allow_pickle, dtype=dtype, log=log, warn=warn)
        # As the trainer decides; another model (--base-model) speaks for itself.
        v_pred = bool(base.v_prediction) if base_model else bool(m.v_parameterization or base.v_prediction)
        ztsnr = bool(base.zero_terminal_snr) if base_model else bool(m.zero_terminal_snr or base.zero_terminal_snr)
        pipe = build_pipeline(base.family, unet=base.unet, vae=base.vae, text_encoders=base.text_encoders,
                              tokenizers=base.tokenizers,
                              scheduler=make_scheduler(settings.sample.sampler, base.scheduler_config,
                                                       v_prediction=v_pred, zero_terminal_snr=ztsnr))
        pipe.to(dev)
        for module in (base.unet, base.vae, *base.text_encoders):
            module.eval()
        clip_skip = settings.training.clip_skip if base.family == "sd15" else 1
        return cls(pipe=pipe, base=base, family=base.family, device=torch.device(dev), clip_skip=clip_skip,
                   v_prediction=v_pred, zero_terminal_snr=ztsnr, guidance_rescale=settings.sample.guidance_rescale)

    # ----- LoRA --------------------------------------------------------------------------------
    def use_lora(self, path: Path | None, weight: float = 1.0) -> None:
        """Make ``path`` at ``weight`` the only LoRA (None: no LoRA at all)."""
        if self._adapter and (path is None or self._adapter[0] != path):
            self.pipe.delete_adapters(self._adapter[1])
            self._adapter = None
        if self._merged and self._merged != (path, float(weight)):
            self._merger.restore()
            self._merged = None
        if path is None:
            return
        if self._adapter is None and self._needs_merge(path):
            if self._merged is None:
                self._merge(path, float(weight))
            return
        if self._adapter is None:
            self._check_family(path)
            self._count += 1
            name = f"tui_lora_{self._count}"
            try:
                self.pipe.load_lora_weights(str(path), adapter_name=name)
            except Exception as exc:  # noqa: BLE001 - a broken or foreign file: say which
                self._drop_partial(name)
                raise UserError(f"{path.name} could not be loaded as a LoRA ({type(exc).__name__})",
                                Fix("retrain that epoch or {}",
                                    ChangeInput("compare.epochs", verb="leave it out with"))) from None
            self._adapter = (path, name)
        self.pipe.set_adapters([self._adapter[1]], adapter_weights=[float(weight)])

    def _needs_merge(self, path: Path) -> bool:
        from tui_lora.core.compare.merge import needs_merge
        from tui_lora.core.models import read_safetensors_header

        keys, _meta = read_safetensors_header(path)
        return needs_merge(keys)

    def _merge(self, path: Path, weight: float) -> None:
        """Merge a LoHa / LoKr / DoRA file into the UNet and text encoders (the originals are kept)."""
        from tui_lora.core.compare.merge import WeightMerger, layer_index
        from tui_lora.core.train.kohya_names import te_namer, unet_namer

        self._check_family(path)
        if self._merger is None:
            p = self.pipe
            index = layer_index(p.unet, unet_namer(self.family, dict(p.unet.config)))
            tes = [p.text_encoder] + ([p.text_encoder_2] if self.family == "sdxl" else [])
            for i, te in enumerate(tes):
                index.update(layer_index(te, te_namer(self.family, i)))
            self._merger = WeightMerger(index)
        if self._merge_file is None or self._merge_file[0] != path:
            from safetensors.torch import load_file

            try:
                self._merge_file = (path, load_file(str(path)))
            except Exception as exc:  # noqa: BLE001 - a broken or foreign file: say which
                raise UserError(f"{path.name} could not be read as a LoRA ({type(exc).__name__})",
                                Fix("retrain that epoch or {}",
                                    ChangeInput("compare.epochs", verb="leave it out with"))) from None
        self._merger.apply(self._merge_file[1], weight, label=path.name)
        self._merged = (path, weight)

    def _check_family(self, path: Path) -> None:
        from tui_lora.core.compare.files import lora_family

        fam = lora_family(path)
        if fam and fam != self.family:
            label = {"sd15": "SD1.x", "sdxl": "SDXL"}
            raise UserError(f"{path.name} is an {label[fam]} LoRA but the base model is {label[self.family]}",
                            Fix("compare on the model it was trained on ({} or {})",
                                ChangeSetting("model.pretrained_model_name_or_path", verb=""), Given("base_model")))

    def _drop_partial(self, name: str) -> None:
        try:
            if name in {a for names in self.pipe.get_list_adapters().values() for a in names}:
                self.pipe.delete_adapters(name)
        except Exception:  # noqa: BLE001 - best effort after a failed load
            pass

    # ----- images ------------------------------------------------------------------------------
    def _components(self) -> tuple[list, list]:
        p = self.pipe
        tes = [p.text_encoder] + ([p.text_encoder_2] if self.family == "sdxl" else [])
        toks = [p.tokenizer] + ([p.tokenizer_2] if self.family == "sdxl" else [])
        return tes, toks

    def chunks(self, sp: SamplePrompt) -> int:
        """The 75-token chunks ``sp`` is encoded with (pictures batch together only when they agree)."""
        from tui_lora.core.compare.batch import prompt_chunks

        return prompt_chunks(self.pipe.tokenizer, sp)

    def render_batch(self, sps: list[SamplePrompt], *, chunks: int, cancel: threading.Event | None = None
                     ) -> list[Image.Image] | None:
        """One picture per resolved prompt (they share size, steps, CFG, sampler and ``chunks``) in one
        pipeline call with the current LoRA; None when cancelled."""
        from tui_lora.core.compare.batch import render_batch
        from tui_lora.core.train.pipeline import preserved_rng

        tes, toks = self._components()
        with preserved_rng():
            return render_batch(self.pipe, self.family, sps, tokenizers=toks, text_encoders=tes,
                                clip_skip=self.clip_skip, scheduler_config=self.base.scheduler_config,
                                v_prediction=self.v_prediction, chunks=chunks,
                                zero_terminal_snr=self.zero_terminal_snr, guidance_rescale=self.guidance_rescale,
                                cancel=cancel)

    def render(self, sp: SamplePrompt, *, cancel: threading.Event | None = None) -> Image.Image | None:
        """One image for a resolved prompt with the current LoRA (PIL), or None when cancelled."""
        from tui_lora.core.train.pipeline import preserved_rng, render

        p = self.pipe
        tes = [p.text_encoder] + ([p.text_encoder_2] if self.family == "sdxl" else [])
        toks = [p.tokenizer] + ([p.tokenizer_2] if self.family == "sdxl" else [])
        with preserved_rng():
            return render(p, self.family, sp, tokenizers=toks, text_encoders=tes, clip_skip=self.clip_skip,
                          scheduler_config=self.base.scheduler_config, v_prediction=self.v_prediction,
                          zero_terminal_snr=self.zero_terminal_snr, guidance_rescale=self.guidance_rescale,
                          cancel=cancel)
