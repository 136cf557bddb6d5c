"""The LoRA file's keys, alphas and metadata (DESIGN.md "The LoRA file"), and kohya's module names."""

import io
import json
import os
import re

import pytest
from safetensors import safe_open

from tui_lora.core.train.kohya_names import SgmMapper, te_path, unet_namer
from support.train import make_train_project, torch_threads

KEY_RE = re.compile(r"^lora_(unet|te|te1|te2)_[A-Za-z0-9_]+\.(lora_down\.weight|lora_up\.weight|alpha)$")

# diffusers' configs of the real models (only the fields the mapping reads)
SDXL_CONFIG = {
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "layers_per_block": 2,
}
SD15_CONFIG = {
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "layers_per_block": 2,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@pytest.mark.parametrize("path,sgm", [
    # kohya's names for real SDXL LoRAs
    ("down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q", "input_blocks.4.1.transformer_blocks.0.attn1.to_q"),
    ("down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2", "input_blocks.8.1.transformer_blocks.9.ff.net.2"),
    ("down_blocks.0.resnets.1.conv2", "input_blocks.2.0.out_layers.3"),
    ("down_blocks.0.downsamplers.0.conv", "input_blocks.3.0.op"),
    ("down_blocks.1.resnets.0.conv_shortcut", "input_blocks.4.0.skip_connection"),
    ("down_blocks.1.resnets.0.time_emb_proj", "input_blocks.4.0.emb_layers.1"),
    ("mid_block.resnets.0.conv1", "middle_block.0.in_layers.2"),
    ("mid_block.attentions.0.proj_in", "middle_block.1.proj_in"),
    ("mid_block.resnets.1.conv2", "middle_block.2.out_layers.3"),
    ("up_blocks.0.attentions.2.proj_out", "output_blocks.2.1.proj_out"),
    ("up_blocks.0.upsamplers.0.conv", "output_blocks.2.2.conv"),
    ("up_blocks.1.resnets.0.conv1", "output_blocks.3.0.in_layers.2"),
    ("up_blocks.1.upsamplers.0.conv", "output_blocks.5.2.conv"),
    ("up_blocks.2.resnets.2.conv_shortcut", "output_blocks.8.0.skip_connection"),
])
def test_sgm_names_of_real_sdxl(path, sgm):
    assert SgmMapper(SDXL_CONFIG)(path) == sgm


def test_sgm_names_of_real_sd15_match_webui():
    m = SgmMapper(SD15_CONFIG)  # webui's convert_diffusers_name_to_compvis for SD1.x
    assert m("down_blocks.0.attentions.1.proj_in") == "input_blocks.2.1.proj_in"
    assert m("down_blocks.3.resnets.1.conv1") == "input_blocks.11.0.in_layers.2"
    assert m("up_blocks.0.upsamplers.0.conv") == "output_blocks.2.1.conv"  # no attention in that level
    assert m("up_blocks.3.attentions.2.proj_out") == "output_blocks.11.1.proj_out"
    # SD1.x files keep diffusers' names, as kohya writes them
    assert unet_namer("sd15", SD15_CONFIG)("down_blocks.0.attentions.1.proj_in") == \
        "lora_unet_down_blocks_0_attentions_1_proj_in"
    assert te_path("encoder.layers.0.mlp.fc1") == "text_model.encoder.layers.0.mlp.fc1"
    assert te_path("text_model.encoder.layers.0.mlp.fc1") == "text_model.encoder.layers.0.mlp.fc1"


def test_targets_follow_kohya(tiny_sd15):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    from tui_lora.core.train.network import NetworkSpec, text_encoder_targets, unet_targets

    unet = UNet2DConditionModel.from_pretrained(tiny_sd15, subfolder="unet")
    te = CLIPTextModel.from_pretrained(tiny_sd15, subfolder="text_encoder")
    lora = unet_targets(unet, NetworkSpec("lora", 8, 4.0, 4, 2.0))
    names = {t.path.split(".", 4)[-1] for t in lora}
    assert all("attentions" in t.path for t in lora)
    assert {"proj_in", "proj_out"} <= {t.path.rsplit(".", 1)[-1] for t in lora}
    assert any(n.endswith("attn2.to_k") for n in names) and any(n.endswith("ff.net.0.proj") for n in names)
    assert all((t.rank, t.alpha) == (8, 4.0) for t in lora)
    locon = unet_targets(unet, NetworkSpec("locon", 8, 4.0, 4, 2.0))
    extra = {t.path for t in locon} - {t.path for t in lora}
    by_path = {t.path: t for t in locon}
    assert "down_blocks.0.downsamplers.0.conv" in extra and "up_blocks.0.upsamplers.0.conv" in extra
    assert by_path["down_blocks.0.resnets.0.conv1"].rank == 4 and by_path["down_blocks.0.resnets.0.conv1"].alpha == 2.0
    # Linear and 1×1 children of ResNet blocks get the linear rank, as in kohya's networks/lora.py
    assert by_path["down_blocks.0.resnets.0.time_emb_proj"].rank == 8
    assert by_path["down_blocks.1.resnets.0.conv_shortcut"].rank == 8
    te_targets = text_encoder_targets(te, NetworkSpec())
    assert len(te_targets) == 6 * te.config.num_hidden_layers
    assert {t.path.rsplit(".", 1)[-1] for t in te_targets} == {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"}
    # alpha 0 means alpha = dim (no scaling), as in kohya
    assert NetworkSpec("lora", 8, 0.0).effective_alpha == 8.0


def _train_and_save(tmp_path, model, family, **settings):
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    project = make_train_project(tmp_path / "p", model, family=family, images=3,
                                 size=[(64, 64), (128, 64), (64, 128)], settings=settings)
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()))
    result = trainer.fit()
    return project, trainer, result


def _read(path):
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_sd15_locon_file(tmp_path, tiny_sd15):
    project, trainer, result = _train_and_save(tmp_path, tiny_sd15, "sd15", **{
        "network.network_type": "locon", "network.network_dim": 8, "network.network_alpha": 3.0,
        "network.conv_dim": 4, "network.conv_alpha": 1.0, "output.save_precision": "bf16",
        "training.clip_skip": 2})
    import torch

    assert result.path == project.final_file() and result.path.is_file()
    tensors, meta = _read(result.path)
    assert all(KEY_RE.match(k) for k in tensors), [k for k in tensors if not KEY_RE.match(k)]
    modules = {k.rsplit(".", 2)[0] if k.endswith("weight") else k.rsplit(".", 1)[0] for k in tensors}
    for m in modules:
        assert {f"{m}.lora_down.weight", f"{m}.lora_up.weight", f"{m}.alpha"} <= tensors.keys()
        down, up, alpha = tensors[f"{m}.lora_down.weight"], tensors[f"{m}.lora_up.weight"], tensors[f"{m}.alpha"]
        assert down.dtype == up.dtype == alpha.dtype == torch.bfloat16
        rank = down.shape[0]
        assert up.shape[1] == rank
        conv3 = down.ndim == 4 and down.shape[2:] == (3, 3)
        assert (rank, alpha.item()) == ((4, 1.0) if conv3 else (8, 3.0)), m
    assert "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q" in modules
    assert "lora_unet_down_blocks_0_resnets_0_conv1" in modules
    assert "lora_unet_down_blocks_0_downsamplers_0_conv" in modules
    assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj" in modules
    assert not [m for m in modules if "input_blocks" in m or m.startswith(("lora_te1", "lora_te2"))]
    assert len([m for m in modules if m.startswith("lora_te_")]) == 6 * 3

    s = trainer.s
    assert meta["ss_network_module"] == "networks.lora"
    assert meta["ss_network_dim"] == "8" and meta["ss_network_alpha"] == "3.0"
    assert json.loads(meta["ss_network_args"]) == {"conv_dim": "4", "conv_alpha": "1.0"}
    assert meta["ss_base_model_version"] == "sd_v1" and meta["ss_v2"] == "False"
    assert meta["ss_sd_model_name"] == tiny_sd15.name
    assert meta["ss_resolution"] == "(64, 64)" and meta["modelspec.resolution"] == "64x64"
    assert meta["ss_num_epochs"] == "1" and meta["ss_epoch"] == "1"
    assert meta["ss_steps"] == str(result.steps) == meta["ss_max_train_steps"]
    assert meta["ss_num_batches_per_epoch"] == str(s.steps_per_epoch)
    assert float(meta["ss_unet_lr"]) == float(meta["ss_learning_rate"]) == s.t["unet_lr"]
    assert float(meta["ss_text_encoder_lr"]) == s.t["text_encoder_lr"]
    assert meta["ss_optimizer"].endswith("AdamW") and meta["ss_lr_scheduler"] == s.t["lr_scheduler"]
    assert meta["ss_batch_size_per_device"] == "2" and meta["ss_total_batch_size"] == "2"
    assert json.loads(meta["ss_dataset_dirs"]) == {"1_ohwx": {"n_repeats": 1, "img_count": 3}}
    freq = json.loads(meta["ss_tag_frequency"])
    assert freq["1_ohwx"]["ohwx"] == 3
    assert meta["ss_seed"] == "42" and meta["ss_clip_skip"] == "2" and meta["ss_mixed_precision"] == "no"
    assert meta["ss_num_train_images"] == "3"
    assert json.loads(meta["ss_bucket_info"])["buckets"]
    assert meta["modelspec.sai_model_spec"] == "1.0.1"
    assert meta["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert meta["modelspec.implementation"] == "diffusers"
    assert meta["modelspec.title"] == project.output_name
    assert meta["modelspec.prediction_type"] == "epsilon"
    assert meta["modelspec.trigger_phrase"] == "ohwx" and meta["modelspec.encoder_layer"] == "2"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", meta["modelspec.date"])
    # kohya's additional-networks hashes, recomputed from the file as written
    from tui_lora.core.train.saving import addnet_hashes

    assert (meta["sshs_model_hash"], meta["sshs_legacy_hash"]) == addnet_hashes(tensors, meta)
    # atomic: nothing but the LoRA files in output/, and they are readable by other users (webui)
    leftovers = [p.name for p in project.output_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert os.stat(result.path).st_mode & 0o044


def test_sdxl_file_uses_sgm_names_and_epoch_files(tmp_path, tiny_sdxl):
    project, trainer, result = _train_and_save(
        tmp_path, tiny_sdxl, "sdxl", **{"training.max_train_epochs": 3, "output.save_every_n_epochs": 2,
                                         "network.network_train_unet_only": False,
                                         "training.text_encoder_lr": 1e-4, "output.save_precision": "float"})
    import torch

    assert result.files == [project.epoch_file(2), project.final_file()]
    assert not project.epoch_file(1).exists() and not project.epoch_file(3).exists()
    tensors, meta = _read(result.path)
    assert all(KEY_RE.match(k) for k in tensors)
    assert all(t.dtype == torch.float32 for t in tensors.values())
    unet = [k for k in tensors if k.startswith("lora_unet_")]
    assert unet and all(re.match(r"lora_unet_(input_blocks|middle_block|output_blocks)_\d", k) for k in unet)
    assert "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.alpha" in tensors
    assert "lora_unet_middle_block_1_transformer_blocks_1_ff_net_2.lora_up.weight" in tensors
    assert "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.alpha" in tensors
    assert "lora_te2_text_model_encoder_layers_2_mlp_fc2.alpha" in tensors
    assert {tensors[k].item() for k in tensors if k.endswith(".alpha")} == {2.0}
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0" and meta["ss_clip_skip"] == "None"
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert meta["modelspec.implementation"] == "https://github.com/Stability-AI/generative-models"
    assert meta["ss_epoch"] == "3" and meta["ss_num_epochs"] == "3"
    _, meta2 = _read(project.epoch_file(2))
    assert meta2["ss_epoch"] == "2" and int(meta2["ss_steps"]) == 2 * trainer.s.steps_per_epoch
    assert "ss_network_args" not in meta
    # every file is loadable by diffusers (the intermediate one too)
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    pipe.load_lora_weights(str(project.epoch_file(2)))
    assert pipe.get_list_adapters()
