"""Single-file checkpoints (what model sites distribute) load through diffusers' ``from_single_file``.

The files are the tiny fixtures converted to the original ldm / sgm layout; a local ``config=``
stands in for the config files a user's first load fetches from the Hugging Face hub.
"""

import pytest
import torch

from tui_lora.core.errors import UserError
from tui_lora.core.models import inspect_model
from tui_lora.core.train.model import load_base_model
from support.single_file import save_single_file


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def tiny_sdxl_wide(tmp_path_factory):
    """A tiny SDXL whose second text encoder is wider than the first, as in the real model; diffusers'
    single-file loader tells the two encoders apart by their widths."""
    from tui_lora.demo.tiny_models import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl-wide", te2_width=48)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_single_file_loads_the_same_model_as_the_folder(tmp_path, request, family):
    folder = request.getfixturevalue("tiny_sd15" if family == "sd15" else "tiny_sdxl_wide")
    path = save_single_file(folder, tmp_path / f"{family}-model.safetensors")
    info = inspect_model(str(path))
    assert info.kind == "file" and info.family == family and info.detected
    single = load_base_model(str(path), single_file_config=str(folder))
    ref = load_base_model(str(folder))
    assert single.family == family and single.kind == "file" and single.name == path.name
    assert same_weights(single.unet, ref.unet)
    assert same_weights(single.vae, ref.vae)
    assert len(single.text_encoders) == len(ref.text_encoders)
    for a, b in zip(single.text_encoders, ref.text_encoders):
        assert same_weights(a, b)


def test_v_prediction_from_the_checkpoint_header(tmp_path, tiny_sd15):
    path = save_single_file(tiny_sd15, tmp_path / "vpred.safetensors", metadata={"modelspec.prediction_type": "v"})
    assert load_base_model(str(path), single_file_config=str(tiny_sd15)).v_prediction is True


def test_single_file_offline_without_cached_configs(tmp_path, tiny_sd15, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    path = save_single_file(tiny_sd15, tmp_path / "model.safetensors")
    with pytest.raises(UserError, match="needs the SD1.5 config files") as exc:
        load_base_model(str(path))
    assert "\n" not in str(exc.value)
