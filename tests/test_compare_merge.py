"""core/compare/merge.py (how compare applies LoHa, LoKr and DoRA files) against the independent
reference (tests/reference_merge.py), per weight on random factors of every form, then on the tiny
pipeline: the merged model equals the reference merge, a weight or file change leaves nothing behind,
and a plain LoRA after a merged file still goes through diffusers."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import reference_merge as R
from tui_lora.core.compare import ComparePipeline, plan_compare, run_compare
from tui_lora.core.compare import merge as M
from tui_lora.core.sample_prompts import SamplePrompt
from support.lora_files import make_lora_files
from support.train import torch_threads

PROMPT = SamplePrompt("ohwx, red hair", negative="lowres", width=64, height=64, steps=2, cfg=5.0, seed=7,
                      sampler="euler_a")


def rnd(g, *shape, s=0.3):
    return torch.randn(*shape, generator=g) * s


def forms():
    """(id, weight, parts) for every module form a LoRA / LyCORIS file can hold."""
    g = torch.Generator().manual_seed(0)
    a = torch.tensor(3.0)
    out = [
        ("lora_linear", rnd(g, 12, 20), {"lora_up.weight": rnd(g, 12, 4), "lora_down.weight": rnd(g, 4, 20),
                                          "alpha": a}),
        ("lora_conv3", rnd(g, 8, 6, 3, 3), {"lora_up.weight": rnd(g, 8, 2, 1, 1), "lora_down.weight": rnd(g, 2, 6, 3, 3),
                                             "alpha": a}),
        ("lora_mid", rnd(g, 8, 6, 3, 3), {"lora_up.weight": rnd(g, 8, 2, 1, 1), "lora_down.weight": rnd(g, 2, 6, 1, 1),
                                           "lora_mid.weight": rnd(g, 2, 2, 3, 3), "alpha": a}),
        ("lora_no_alpha", rnd(g, 12, 20), {"lora_up.weight": rnd(g, 12, 4), "lora_down.weight": rnd(g, 4, 20)}),
        ("loha_linear", rnd(g, 10, 14), {"hada_w1_a": rnd(g, 10, 4), "hada_w1_b": rnd(g, 4, 14),
                                         "hada_w2_a": rnd(g, 10, 4), "hada_w2_b": rnd(g, 4, 14), "alpha": a}),
        ("loha_conv_flat", rnd(g, 8, 6, 3, 3), {"hada_w1_a": rnd(g, 8, 2), "hada_w1_b": rnd(g, 2, 54),
                                                "hada_w2_a": rnd(g, 8, 2), "hada_w2_b": rnd(g, 2, 54), "alpha": a}),
        ("loha_tucker", rnd(g, 8, 6, 3, 3), {"hada_w1_a": rnd(g, 2, 8), "hada_w1_b": rnd(g, 2, 6),
                                             "hada_w2_a": rnd(g, 2, 8), "hada_w2_b": rnd(g, 2, 6),
                                             "hada_t1": rnd(g, 2, 2, 3, 3), "hada_t2": rnd(g, 2, 2, 3, 3), "alpha": a}),
        ("lokr_full_full", rnd(g, 12, 20), {"lokr_w1": rnd(g, 3, 4), "lokr_w2": rnd(g, 4, 5), "alpha": a}),
        ("lokr_full_ab", rnd(g, 12, 20), {"lokr_w1": rnd(g, 3, 4), "lokr_w2_a": rnd(g, 4, 2),
                                          "lokr_w2_b": rnd(g, 2, 5), "alpha": a}),
        ("lokr_ab_full", rnd(g, 12, 20), {"lokr_w1_a": rnd(g, 3, 2), "lokr_w1_b": rnd(g, 2, 4),
                                          "lokr_w2": rnd(g, 4, 5), "alpha": a}),
        ("lokr_conv_flat", rnd(g, 8, 6, 3, 3), {"lokr_w1": rnd(g, 2, 2), "lokr_w2_a": rnd(g, 4, 2),
                                                "lokr_w2_b": rnd(g, 2, 27), "alpha": a}),
        ("lokr_conv_full", rnd(g, 8, 6, 3, 3), {"lokr_w1": rnd(g, 2, 2), "lokr_w2": rnd(g, 4, 3, 3, 3), "alpha": a}),
        ("lokr_tucker", rnd(g, 8, 6, 3, 3), {"lokr_w1": rnd(g, 2, 2), "lokr_w2_a": rnd(g, 2, 4),
                                             "lokr_w2_b": rnd(g, 2, 3), "lokr_t2": rnd(g, 2, 2, 3, 3), "alpha": a}),
    ]
    return out


FORMS = forms()


@pytest.mark.parametrize("strength", [1.0, 0.6])
@pytest.mark.parametrize("name,weight,parts", FORMS, ids=[f[0] for f in FORMS])
def test_every_form_merges_as_the_reference(name, weight, parts, strength):
    got = M.merged(parts, weight, strength)
    expected = R.merge_weight(parts, weight, strength=strength)
    assert (got - expected).abs().max().item() <= 1e-5 * max(1.0, expected.abs().max().item())
    assert (got - weight).abs().max().item() > 1e-2  # the module does something


def dora_parts(weight, axis, g):
    """A LoRA module with a dora_scale near ‖W'‖ on ``axis`` ("out" or "in")."""
    out, inn = weight.shape[:2]
    ones = (1,) * (weight.dim() - 2)
    parts = {"lora_up.weight": rnd(g, out, 3, *ones), "lora_down.weight": rnd(g, 3, inn, *weight.shape[2:]),
             "alpha": torch.tensor(1.5)}
    adapted = weight + 0.5 * (parts["lora_up.weight"].flatten(1) @ parts["lora_down.weight"].flatten(1)).reshape(
        weight.shape)
    norm = R.axis_norm(adapted, axis)
    parts["dora_scale"] = norm * (1 + 0.1 * torch.randn(norm.shape, generator=g))
    return parts


@pytest.mark.parametrize("shape", [(12, 20), (8, 6, 1, 1), (8, 6, 3, 3)], ids=["linear", "conv1", "conv3"])
@pytest.mark.parametrize("axis", ["out", "in"])
def test_dora_is_lycoris_at_full_strength_and_interpolates_below(shape, axis):
    """Weight 1: LyCORIS's definition (what training computes). Other weights: W + s·(W_dora − W), the
    rule of ComfyUI, Forge and A1111 (on the input axis ComfyUI computes exactly this)."""
    g = torch.Generator().manual_seed(5)
    weight = rnd(g, *shape)
    parts = dora_parts(weight, axis, g)
    full = R.merge_weight(parts, weight, dora="lycoris")
    assert (M.merged(parts, weight, 1.0) - full).abs().max().item() <= 1e-5
    expected = weight + 0.6 * (full - weight)
    assert (M.merged(parts, weight, 0.6) - expected).abs().max().item() <= 1e-5
    if axis == "in":
        comfy = R.merge_weight(parts, weight, strength=0.6, dora="comfyui")
        assert (M.merged(parts, weight, 0.6) - comfy).abs().max().item() <= 1e-5
    assert (M.merged(parts, weight, 0.0) - weight).abs().max().item() <= 1e-6


def test_which_files_need_a_merge_and_bad_parts():
    assert not M.needs_merge(["lora_unet_a.lora_down.weight", "lora_unet_a.lora_up.weight", "lora_unet_a.alpha"])
    assert M.needs_merge(["lora_unet_a.hada_w1_a"]) and M.needs_merge(["lora_te_b.lokr_w1"])
    assert M.needs_merge(["lora_unet_a.lora_down.weight", "lora_unet_a.dora_scale"])
    with pytest.raises(ValueError, match="unknown module parts"):
        M.kind_of({"hada_w1_a": torch.zeros(1), "lokr_w1": torch.zeros(1)})
    with pytest.raises(ValueError, match="fits no axis"):
        M.merged({"lora_up.weight": torch.zeros(4, 1), "lora_down.weight": torch.zeros(1, 6),
                  "dora_scale": torch.ones(3, 1)}, torch.ones(4, 6))


# ----- on the tiny pipeline ------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def lycoris_files(root, model, network_type, dora):
    """A project with epoch files of ``network_type`` whose factors are pushed away from their start."""
    settings = {"network.network_type": network_type, "network.dora": dora, "network.network_train_unet_only": False,
                "training.text_encoder_lr": 1e-3}
    return make_lora_files(root, model, "sd15", settings=settings)


@pytest.fixture(scope="module")
def loha_project(tmp_path_factory, tiny_sd15):
    with torch_threads(1):
        return lycoris_files(tmp_path_factory.mktemp("loha") / "p", tiny_sd15, "loha", False)


@pytest.fixture(scope="module")
def pipeline(loha_project):
    with torch_threads(1):
        return ComparePipeline.load(loha_project, device="cpu")


def state(pipe):
    """The model's own weights by name (a diffusers adapter, once loaded, leaves peft's wrappers)."""
    return {f"{i}.{k.replace('.base_layer', '')}": v.clone()
            for i, m in enumerate((pipe.unet, pipe.text_encoder)) for k, v in m.state_dict().items() if "lora_" not in k}


@pytest.mark.slow
def test_a_loha_file_merges_like_the_reference_and_leaves_nothing_behind(loha_project, pipeline, tiny_sd15):
    from diffusers import StableDiffusionPipeline

    pipeline.use_lora(None)
    before = state(pipeline.pipe)
    base_image = pipeline.render(PROMPT).tobytes()
    path = loha_project.epoch_file(2)
    assert M.needs_merge(list(load_file(str(path))))
    pipeline.use_lora(path, 0.5)
    pipeline.use_lora(path, 1.0)  # a weight change re-merges from the originals, it does not add up
    reference = StableDiffusionPipeline.from_pretrained(tiny_sd15)
    R.merge_file(path, "sd15", unet=reference.unet, text_encoders=[reference.text_encoder])
    mine, ref = state(pipeline.pipe), state(reference)
    assert mine.keys() == ref.keys()
    assert max((mine[k] - ref[k]).abs().max().item() for k in ref) <= 1e-5
    assert max((state(pipeline.pipe)[k] - before[k]).abs().max().item() for k in before) > 1e-2
    image = pipeline.render(PROMPT).tobytes()
    assert image != base_image
    # another file, then none: the originals come back bitwise
    pipeline.use_lora(loha_project.final_file(), 0.8)
    pipeline.use_lora(None)
    after = state(pipeline.pipe)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert pipeline.render(PROMPT).tobytes() == base_image


@pytest.mark.slow
def test_dora_and_plain_lora_files_side_by_side(tmp_path, tiny_sd15, pipeline):
    """A DoRA file is merged (diffusers would drop dora_scale); a plain LoRA after it still goes through
    diffusers' adapters, and nothing of the merged file stays."""
    dora = lycoris_files(tmp_path / "dora", tiny_sd15, "lora", True)
    plain = make_lora_files(tmp_path / "plain", tiny_sd15, "sd15")
    pipeline.use_lora(None)
    before = state(pipeline.pipe)
    pipeline.use_lora(dora.epoch_file(1), 1.0)
    assert not any(pipeline.pipe.get_list_adapters().values())
    merged = state(pipeline.pipe)
    pipeline.use_lora(plain.epoch_file(1), 1.0)
    assert any(pipeline.pipe.get_list_adapters().values())
    pipeline.use_lora(None)
    after = state(pipeline.pipe)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert max((merged[k] - before[k]).abs().max().item() for k in before) > 1e-3


@pytest.mark.slow
def test_a_grid_of_lokr_epochs(tmp_path, tiny_sd15):
    project = lycoris_files(tmp_path / "lokr", tiny_sd15, "lokr", False)
    plan = plan_compare(project, PROMPT, epochs=[1, "final"], weights=[1.0])
    result = run_compare(project, plan, device="cpu")
    assert result.grid_path.is_file() and len(result.cells) == 4
    from PIL import Image

    with Image.open(result.grid_path) as im:
        grid = im.convert("RGB")
    crops = {(c.row, c.col): np.asarray(grid.crop(c.box)) for c in result.cells}
    assert np.abs(crops[(0, 1)].astype(float) - crops[(0, 0)]).mean() > 1
