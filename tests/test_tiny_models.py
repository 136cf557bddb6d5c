"""The shared fixtures: tiny pipelines load with diffusers and are recognised by family."""

import numpy as np
import pytest

from tui_lora.core.errors import UserError
from tui_lora.core.models import inspect_model


def test_tiny_sd15_loads_and_runs(tiny_sd15):
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd15)
    assert pipe.vae_scale_factor == 8
    out = pipe("ohwx, red hair", num_inference_steps=2, height=64, width=64, output_type="np",
               generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 64, 64, 3) and np.isfinite(out).all()


def test_tiny_sdxl_loads_and_runs(tiny_sdxl):
    import torch
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    out = pipe("ohwx", num_inference_steps=2, height=64, width=64, output_type="np",
               generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 64, 64, 3)
    assert pipe.tokenizer_2.pad_token == "!"


def test_families_are_detected(tiny_sd15, tiny_sdxl, tmp_path):
    assert inspect_model(str(tiny_sd15)).family == "sd15"
    info = inspect_model(str(tiny_sdxl))
    assert info.family == "sdxl" and info.detected and info.v_prediction is False
    from tui_lora.demo.tiny_models import build_tiny_sd15

    v = build_tiny_sd15(tmp_path / "v", v_prediction=True)
    assert inspect_model(str(v)).v_prediction is True


def test_model_references():
    assert inspect_model("stabilityai/stable-diffusion-xl-base-1.0").family == "sdxl"
    assert inspect_model("someone/my-anime-model").family is None
    with pytest.raises(UserError, match="does not exist"):
        inspect_model("./nothing/here.safetensors")
    with pytest.raises(UserError, match="neither an existing path nor a Hugging Face repo id"):
        inspect_model("not a model")


def test_single_file_headers(tmp_path):
    import torch
    from safetensors.torch import save_file

    def t():
        return torch.zeros(1)

    save_file({"model.diffusion_model.x": t(), "cond_stage_model.transformer.text_model.y": t()}, tmp_path / "a.safetensors")
    save_file({"model.diffusion_model.x": t(), "conditioner.embedders.1.model.z": t()}, tmp_path / "b.safetensors")
    save_file({"lora_unet_x.lora_down.weight": t()}, tmp_path / "c.safetensors")
    assert inspect_model(str(tmp_path / "a.safetensors")).family == "sd15"
    assert inspect_model(str(tmp_path / "b.safetensors")).family == "sdxl"
    with pytest.raises(UserError, match="not an SD1.x or SDXL checkpoint"):
        inspect_model(str(tmp_path / "c.safetensors"))
    (tmp_path / "d.safetensors").write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable"):
        inspect_model(str(tmp_path / "d.safetensors"))
