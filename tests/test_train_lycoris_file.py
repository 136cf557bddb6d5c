"""The decisive test for LoHa, LoKr and DoRA files (issue 16 item 3): train a few steps on the tiny SD1.5
and SDXL models, save, merge the saved file into a fresh copy of the model the way the loaders do
(``tests/reference_merge.py``: ComfyUI's adapter math, LyCORIS's DoRA), and the merged model's UNet and
text-encoder outputs reproduce the in-training model's to fp16 rounding.

The trained tensors are then pushed away from their initialisation (LoHa's and LoKr's zero factor,
DoRA's magnitude = ‖W‖) so that a wrong alpha, scale, axis or key changes the outputs visibly."""

import io
import json

import pytest
from safetensors import safe_open
from safetensors.torch import load_file

import reference_merge as R
from support.train import make_train_project, torch_threads

CASES = [("loha", False), ("lokr", False), ("lora", True), ("locon", True)]
PROMPT = "ohwx, red hair, smile"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def trained(tmp_path, model, family, network_type, dora, **extra):
    """A trainer after two real steps on UNet and text encoder(s), its weights then perturbed."""
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    settings = {
        "network.network_type": network_type, "network.dora": dora,
        "network.network_dim": 4, "network.network_alpha": 1.0,  # scale 0.25
        "network.conv_dim": 2, "network.conv_alpha": 3.0,  # scale 1.5
        "network.network_train_unet_only": False,
        "training.text_encoder_lr": 1e-3, "training.unet_lr": 1e-3,
        "output.save_precision": "fp16", **extra,
    }
    project = make_train_project(tmp_path / "p", model, family=family, images=2, settings=settings)
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()))
    trainer.fit(until_step=2)
    perturb(trainer.s.modules)
    return project, trainer


def perturb(modules, seed=1):
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in modules:
            for name, p in m.params().items():
                noise = torch.randn(p.shape, generator=gen)
                if name == "magnitude":
                    p.mul_(1 + 0.05 * noise)  # a magnitude is a norm: change it relatively
                elif name == "up":
                    p.add_(noise * 0.05)
                elif name != "down":
                    p.add_(noise * 0.1)


def outputs(family, text, unet, hidden=None, pooled=None, seed=0):
    """(text-encoder output, UNet output) for a fixed prompt, latents and timestep; the UNet gets
    ``hidden`` / ``pooled`` when given, so UNet differences are not text-encoder differences."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, 8, 8, generator=gen)
    with torch.no_grad():
        enc = text.encode([PROMPT])
        kw = {}
        if family == "sdxl":
            kw["added_cond_kwargs"] = {"text_embeds": enc.pooled if pooled is None else pooled,
                                       "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
        out = unet(x, torch.tensor([500]), enc.hidden if hidden is None else hidden, **kw).sample
    return enc, out


def fresh(family, model, clip_skip):
    """The base model as a user loads it: components and the text encoding over them."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    from tui_lora.core.train.text import TextEncoding

    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    pipe = cls.from_pretrained(model)
    toks = [pipe.tokenizer] + ([pipe.tokenizer_2] if family == "sdxl" else [])
    tes = [pipe.text_encoder] + ([pipe.text_encoder_2] if family == "sdxl" else [])
    return pipe.unet, tes, TextEncoding(family, toks, tes, clip_skip=clip_skip)


def merged_outputs(family, model, path, clip_skip, enc_train, *, dora="lycoris", strength=1.0):
    unet, tes, text = fresh(family, model, clip_skip)
    R.merge_file(path, family, unet=unet, text_encoders=tes, strength=strength, dora=dora)
    return outputs(family, text, unet, enc_train.hidden, enc_train.pooled)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sd15", "sdxl"])
@pytest.mark.parametrize("network_type,dora", CASES, ids=["loha", "lokr", "lora_dora", "locon_dora"])
def test_the_merged_file_reproduces_the_trained_model(tmp_path, request, family, network_type, dora):
    model = request.getfixturevalue(f"tiny_{family}")
    project, trainer = trained(tmp_path, model, family, network_type, dora)
    path = trainer.save(project.epoch_file(1), epoch=1)
    s = trainer.s
    clip_skip = s.text.clip_skip
    sd = load_file(str(path))
    kinds = {R.module_kind(parts) for parts in R.split_modules(sd).values()}
    assert kinds == {"lora" if network_type in ("lora", "locon") else network_type}
    assert any(k.endswith(".dora_scale") for k in sd) == dora
    assert any(k.startswith(("lora_te_", "lora_te1_")) for k in sd)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    args = json.loads(meta["ss_network_args"])
    assert meta["ss_network_module"] == "lycoris.kohya" and args["algo"] == network_type
    assert (args.get("dora_wd"), args.get("wd_on_output")) == (("True", "True") if dora else (None, None))

    enc_train, out_train = outputs(family, s.text, s.unet)
    _, _, base_text = fresh(family, model, clip_skip)
    base_unet = fresh(family, model, clip_skip)[0]
    enc_base, out_base = outputs(family, base_text, base_unet, enc_train.hidden, enc_train.pooled)
    enc_file, out_file = merged_outputs(family, model, path, clip_skip, enc_train)

    # fp16 rounding: of ΔW's factors (relative to the effect), and for DoRA of dora_scale, a norm that
    # scales the whole weight (relative to the output; a float file matches to 1e-6).
    def tolerance(effect, out):
        return 2e-3 * effect + (1e-3 * out.abs().max().item() if dora else 0.0) + 1e-6

    effect = (out_train - out_base).abs().max().item()
    diff = (out_train - out_file).abs().max().item()
    assert effect > 1e-2, effect
    assert diff <= tolerance(effect, out_train), (diff, effect)
    te_effect = (enc_train.hidden - enc_base.hidden).abs().max().item()
    te_diff = (enc_train.hidden - enc_file.hidden).abs().max().item()
    assert te_effect > 1e-2, te_effect
    assert te_diff <= tolerance(te_effect, enc_train.hidden), (te_diff, te_effect)
    if family == "sdxl":
        pooled_diff = (enc_train.pooled - enc_file.pooled).abs().max().item()
        assert pooled_diff <= tolerance(te_effect, enc_train.pooled), pooled_diff
    # The test can fail: the file at 80 % strength is a visibly different model.
    _, out_weak = merged_outputs(family, model, path, clip_skip, enc_train, strength=0.8)
    assert (out_weak - out_train).abs().max().item() > 20 * (diff + 1e-6)


@pytest.mark.slow
def test_lokr_full_factors_carry_peft_scale_in_w1(tmp_path, tiny_sd15):
    """On the tiny model most LoKr layers have two full factors, which the loaders apply unscaled: the
    file bakes peft's alpha/rank into lokr_w1 and says alpha = rank; decomposed ones keep the alpha."""
    project, trainer = trained(tmp_path, tiny_sd15, "sd15", "lokr", False)
    path = trainer.save(project.epoch_file(1), epoch=1)
    modules = R.split_modules(load_file(str(path)))
    full = [p for p in modules.values() if "lokr_w1" in p and "lokr_w2" in p]
    decomposed = [p for p in modules.values() if "lokr_w2_a" in p]
    assert full and decomposed
    by_name = {m.kohya: m for m in trainer.s.modules}
    for name, parts in modules.items():
        m = by_name[name]
        if "lokr_w2" in parts:
            assert parts["alpha"].item() == m.rank
            ratio = parts["lokr_w1"].float() / m.params()["lokr_w1"].detach().float()
            finite = ratio[m.params()["lokr_w1"].detach().abs() > 1e-2]
            assert abs(finite.mean().item() - m.alpha / m.rank) < 1e-2
        else:
            assert parts["alpha"].item() == m.alpha


@pytest.mark.slow
def test_a_float_dora_file_is_exact(tmp_path, tiny_sd15):
    """Saved in float32, DoRA's file reproduces the trained model to float rounding: the fp16 tolerance
    above is dora_scale's rounding, not a difference in the maths."""
    project, trainer = trained(tmp_path, tiny_sd15, "sd15", "locon", True, **{"output.save_precision": "float"})
    path = trainer.save(project.epoch_file(1), epoch=1)
    s = trainer.s
    enc_train, out_train = outputs("sd15", s.text, s.unet)
    unet, _, text = fresh("sd15", tiny_sd15, s.text.clip_skip)
    _, out_base = outputs("sd15", text, unet, enc_train.hidden)
    enc_file, out_file = merged_outputs("sd15", tiny_sd15, path, s.text.clip_skip, enc_train)
    effect = (out_train - out_base).abs().max().item()
    assert effect > 1e-2
    assert (out_train - out_file).abs().max().item() <= 1e-4 * effect
    assert (enc_train.hidden - enc_file.hidden).abs().max().item() <= 1e-5
