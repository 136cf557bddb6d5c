"""The decisive test: the saved kohya file, loaded by diffusers' ``load_lora_weights`` exactly as a user
would, reproduces the in-training UNet and text encoder outputs, with alpha != dim, for LoRA and LoCon,
with and without text-encoder training, for SD1.5 and SDXL."""

import io

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from support.train import make_train_project, torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def trained(tmp_path, model, family, network_type, train_te):
    """A trainer after two real steps, its LoRA up-weights then randomised so that a wrong alpha,
    scale or key mapping changes the outputs visibly."""
    import torch

    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    settings = {
        "network.network_type": network_type,
        "network.network_dim": 4, "network.network_alpha": 1.0,  # scale 0.25
        "network.conv_dim": 2, "network.conv_alpha": 3.0,  # scale 1.5
        "network.network_train_unet_only": not train_te,
        "training.text_encoder_lr": 1e-3,
        "training.unet_lr": 1e-3,
        "output.save_precision": "fp16",
    }
    project = make_train_project(tmp_path / "p", model, family=family, images=2, settings=settings)
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()))
    trainer.fit(until_step=2)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in trainer.s.modules:
            m.up.add_(torch.randn(m.up.shape, generator=gen) * 0.05)
    return project, trainer


def outputs(family, text, unet, hidden=None, pooled=None, seed=0):
    """(text-encoder hidden states, UNet output) for a fixed prompt, latents and timestep."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, 8, 8, generator=gen)
    with torch.no_grad():
        enc = text.encode(["ohwx, red hair, smile"])
        h = enc.hidden if hidden is None else hidden
        kw = {}
        if family == "sdxl":
            p = enc.pooled if pooled is None else pooled
            kw["added_cond_kwargs"] = {"text_embeds": p, "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
        out = unet(x, torch.tensor([500]), h, **kw).sample
    return enc, out


def load_pipeline(family, model, lora=None, clip_skip=1):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    from tui_lora.core.train.text import TextEncoding

    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    pipe = cls.from_pretrained(model)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    toks = [pipe.tokenizer] + ([pipe.tokenizer_2] if family == "sdxl" else [])
    tes = [pipe.text_encoder] + ([pipe.text_encoder_2] if family == "sdxl" else [])
    return pipe, TextEncoding(family, toks, tes, clip_skip=clip_skip)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
@pytest.mark.parametrize("network_type", ["lora", "locon"])
@pytest.mark.parametrize("train_te", [True, False], ids=["with_te", "unet_only"])
def test_diffusers_reproduces_the_trained_model(tmp_path, request, family, network_type, train_te):
    model = request.getfixturevalue(f"tiny_{family}")
    project, trainer = trained(tmp_path, model, family, network_type, train_te)
    path = trainer.save(project.epoch_file(1), epoch=1)
    s = trainer.s

    enc_train, out_train = outputs(family, s.text, s.unet)
    base, base_text = load_pipeline(family, model, clip_skip=s.text.clip_skip)
    enc_base, out_base = outputs(family, base_text, base.unet, enc_train.hidden, enc_train.pooled)
    pipe, pipe_text = load_pipeline(family, model, path, clip_skip=s.text.clip_skip)
    enc_file, out_file = outputs(family, pipe_text, pipe.unet, enc_train.hidden, enc_train.pooled)

    # The UNet (same conditioning in): the LoRA matters, and the file reproduces it to fp16 rounding.
    effect = (out_train - out_base).abs().max().item()
    diff = (out_train - out_file).abs().max().item()
    assert effect > 1e-2, effect
    assert diff <= 2e-3 * effect + 1e-6, (diff, effect)
    # The text encoder(s): changed by the LoRA only when they train, and reproduced by the file.
    te_effect = (enc_train.hidden - base_text.encode(["ohwx, red hair, smile"]).hidden).abs().max().item()
    te_diff = (enc_train.hidden - enc_file.hidden).abs().max().item()
    if train_te:
        assert te_effect > 1e-2, te_effect
        assert te_diff <= 2e-3 * te_effect + 1e-6, (te_diff, te_effect)
        if family == "sdxl":
            assert (enc_train.pooled - enc_file.pooled).abs().max().item() <= 2e-3 * te_effect + 1e-6
    else:
        assert te_effect == 0 and te_diff == 0
        with safe_open(str(path), "pt") as f:
            assert not [k for k in f.keys() if k.startswith("lora_te")]
    # Sanity: the test can fail. The same file with alpha = rank (what convert_state_dict_to_kohya
    # writes) gives a visibly different model.
    if network_type == "locon" and train_te:
        sd = load_file(str(path))
        for k in list(sd):
            if k.endswith(".alpha"):
                rank = sd[k.replace(".alpha", ".lora_down.weight")].shape[0]
                sd[k] = sd[k].new_tensor(float(rank))
        wrong = tmp_path / "wrong.safetensors"
        save_file(sd, str(wrong))
        pipe_w, _ = load_pipeline(family, model, wrong)
        _, out_wrong = outputs(family, pipe_text, pipe_w.unet, enc_train.hidden, enc_train.pooled)
        assert (out_wrong - out_train).abs().max().item() > 50 * (diff + 1e-6)
