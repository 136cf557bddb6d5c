"""Loading the base model: folders, repo ids without a network, pickle consent, non-SD models."""

import pytest
import torch
from safetensors.torch import save_file

from tui_lora.core.errors import UserError
from tui_lora.core.train.model import family_of, load_base_model


def test_family_from_the_unet_config():
    sd15 = {"cross_attention_dim": 768, "in_channels": 4}
    assert family_of(sd15, 1) == "sd15"
    assert family_of({**sd15, "cross_attention_dim": 1024, "use_linear_projection": True}, 1) is None  # SD2.x
    assert family_of({**sd15, "in_channels": 9}, 1) is None  # inpainting
    xl = {"cross_attention_dim": 2048, "addition_embed_type": "text_time", "in_channels": 4}
    assert family_of(xl, 2) == "sdxl"
    assert family_of({**xl, "cross_attention_dim": 1280}, 1) is None  # the SDXL refiner has one text encoder


def test_diffusers_folder(tiny_sdxl):
    warnings = []
    base = load_base_model(str(tiny_sdxl), warn=warnings.append)
    assert base.family == "sdxl" and base.kind == "folder" and base.v_prediction is False
    assert len(base.text_encoders) == len(base.tokenizers) == 2
    assert base.name == tiny_sdxl.name and warnings == []
    assert base.scheduler_config["prediction_type"] == "epsilon"


def test_unreachable_repo_id_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(UserError) as exc:
        load_base_model("someone/not-in-the-cache-sdxl")
    msg = str(exc.value)
    assert msg.startswith("Cannot download someone/not-in-the-cache-sdxl") and "\n" not in msg
    assert "local diffusers folder" in msg


def test_pickles_need_consent(tmp_path, tiny_sd15):
    from support.single_file import save_single_file

    ckpt = save_single_file(tiny_sd15, tmp_path / "model.ckpt")
    with pytest.raises(UserError, match="pickle checkpoint, which can run code"):
        load_base_model(str(ckpt))
    warnings = []
    base = load_base_model(str(ckpt), allow_pickle=True, single_file_config=str(tiny_sd15), warn=warnings.append)
    assert base.family == "sd15" and base.kind == "file"
    assert len(warnings) == 1 and "pickle checkpoint model.ckpt" in warnings[0]
    ref = load_base_model(str(tiny_sd15))
    assert all(torch.equal(a, b) for a, b in zip(base.unet.state_dict().values(), ref.unet.state_dict().values()))


def test_models_that_are_not_sd15_or_sdxl(tmp_path):
    sd2 = tmp_path / "sd2.safetensors"
    save_file({"model.diffusion_model.x": torch.zeros(1), "cond_stage_model.model.y": torch.zeros(1)}, sd2)
    with pytest.raises(UserError, match="not an SD1.x or SDXL checkpoint"):
        load_base_model(str(sd2))
    lora = tmp_path / "some-lora.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(1)}, lora)
    with pytest.raises(UserError, match="is it a LoRA"):
        load_base_model(str(lora))
