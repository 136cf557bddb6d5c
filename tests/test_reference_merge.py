"""tests/reference_merge.py against formulas written out here, so the ground truth cannot drift.

Each formula is stated independently of the helper (einsum index notation, the layer's forward, the
defining property of DoRA), for linear layers and 1×1 / 3×3 convolutions. The peft tests pin down how
peft's trained parameters map onto the file keys; the last test checks ``merge_file``'s module names
for SD1.5 and SDXL against diffusers' own kohya loader."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import reference_merge as R


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rnd(g, *shape, s=0.3):
    return torch.randn(*shape, generator=g) * s


def close(a, b, tol=2e-5):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item()), (a - b).abs().max().item()


# ------------------------------------------------------------------ LoRA
@pytest.mark.parametrize("alpha", [3.0, None], ids=["alpha3", "no_alpha"])
@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_lora_linear_is_w_plus_strength_alpha_over_rank_up_down(alpha, strength):
    g = gen(1)
    w, up, down = rnd(g, 12, 20), rnd(g, 12, 4), rnd(g, 4, 20)
    parts = {"lora_up.weight": up, "lora_down.weight": down}
    if alpha is not None:
        parts["alpha"] = torch.tensor(alpha)
    scale = alpha / 4 if alpha is not None else 1.0
    expected = torch.einsum("or,ri->oi", up, down) * scale * strength + w
    close(R.merge_weight(parts, w, strength=strength), expected)


@pytest.mark.parametrize("k", [1, 3])
def test_lora_conv_merge_equals_the_down_then_up_forward(k):
    """kohya's LoRA conv: lora_down is a k×k conv to rank channels, lora_up a 1×1 conv back."""
    g = gen(2)
    w, up, down = rnd(g, 8, 6, k, k), rnd(g, 8, 3, 1, 1), rnd(g, 3, 6, k, k)
    parts = {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(1.5)}
    x = rnd(g, 2, 6, 7, 7, s=1.0)
    merged = R.merge_weight(parts, w)
    expected = F.conv2d(x, w, padding=k // 2) + 0.5 * F.conv2d(F.conv2d(x, down, padding=k // 2), up)
    close(F.conv2d(x, merged, padding=k // 2), expected)
    close(merged - w, 0.5 * torch.einsum("or,rikl->oikl", up[:, :, 0, 0], down))


def test_lora_mid_is_the_tucker_product():
    """LoCon's Tucker form: 1×1 down, k×k mid (rank → rank), 1×1 up."""
    g = gen(3)
    w, up, mid, down = rnd(g, 8, 6, 3, 3), rnd(g, 8, 2, 1, 1), rnd(g, 2, 2, 3, 3), rnd(g, 2, 6, 1, 1)
    parts = {"lora_up.weight": up, "lora_down.weight": down, "lora_mid.weight": mid, "alpha": torch.tensor(4.0)}
    expected = w + 2.0 * torch.einsum("or,rmkl,mi->oikl", up[:, :, 0, 0], mid, down[:, :, 0, 0])
    close(R.merge_weight(parts, w), expected)
    x = rnd(g, 1, 6, 5, 5, s=1.0)
    forward = F.conv2d(F.conv2d(F.conv2d(x, down), mid, padding=1), up)
    close(F.conv2d(x, R.merge_weight(parts, w), padding=1), F.conv2d(x, w, padding=1) + 2.0 * forward)


# ------------------------------------------------------------------ LoHa
@pytest.mark.parametrize("alpha", [2.0, None], ids=["alpha2", "no_alpha"])
def test_loha_linear_is_the_hadamard_product_of_two_low_rank_matrices(alpha):
    g = gen(4)
    w = rnd(g, 10, 14)
    w1a, w1b, w2a, w2b = rnd(g, 10, 4), rnd(g, 4, 14), rnd(g, 10, 4), rnd(g, 4, 14)
    parts = {"hada_w1_a": w1a, "hada_w1_b": w1b, "hada_w2_a": w2a, "hada_w2_b": w2b}
    if alpha is not None:
        parts["alpha"] = torch.tensor(alpha)
    scale = alpha / 4 if alpha is not None else 1.0
    expected = w + 0.7 * scale * torch.einsum("or,ri->oi", w1a, w1b) * torch.einsum("or,ri->oi", w2a, w2b)
    close(R.merge_weight(parts, w, strength=0.7), expected)


@pytest.mark.parametrize("k", [1, 3])
def test_loha_conv_flat_factors_span_in_times_kernel(k):
    g = gen(5)
    w = rnd(g, 8, 5, k, k)
    w1a, w1b, w2a, w2b = rnd(g, 8, 2), rnd(g, 2, 5 * k * k), rnd(g, 8, 2), rnd(g, 2, 5 * k * k)
    parts = {"hada_w1_a": w1a, "hada_w1_b": w1b, "hada_w2_a": w2a, "hada_w2_b": w2b, "alpha": torch.tensor(1.0)}
    delta = ((w1a @ w1b) * (w2a @ w2b)).reshape(8, 5, k, k)
    close(R.merge_weight(parts, w), w + 0.5 * delta)


def test_loha_tucker_rebuilds_each_factor_from_its_core():
    """hada_t* (rank, rank, kh, kw) with hada_w*_a (rank, out), hada_w*_b (rank, in):
    m[o, i, k, l] = Σ_pq t[p, q, k, l] · a[p, o] · b[q, i]."""
    g = gen(6)
    w = rnd(g, 8, 5, 3, 3)
    t1, a1, b1 = rnd(g, 2, 2, 3, 3), rnd(g, 2, 8), rnd(g, 2, 5)
    t2, a2, b2 = rnd(g, 2, 2, 3, 3), rnd(g, 2, 8), rnd(g, 2, 5)
    parts = {"hada_w1_a": a1, "hada_w1_b": b1, "hada_t1": t1, "hada_w2_a": a2, "hada_w2_b": b2, "hada_t2": t2,
             "alpha": torch.tensor(3.0)}
    m1 = torch.einsum("pqkl,po,qi->oikl", t1, a1, b1)
    m2 = torch.einsum("pqkl,po,qi->oikl", t2, a2, b2)
    close(R.merge_weight(parts, w), w + 1.5 * m1 * m2)


# ------------------------------------------------------------------ LoKr
def kron2(w1, w2):
    """w1 ⊗ w2 by its definition: out index a·B + b, in index c·D + d (and kernel dims of w2)."""
    a, c = w1.shape
    b, d = w2.shape[:2]
    return torch.einsum("ac,bd...->abcd...", w1, w2).reshape(a * b, c * d, *w2.shape[2:])


@pytest.mark.parametrize("w1_form,w2_form,scaled", [
    ("full", "ab", True), ("ab", "ab", True), ("ab", "full", True), ("full", "full", False)])
def test_lokr_linear_is_a_kronecker_product_scaled_only_when_a_factor_is_decomposed(w1_form, w2_form, scaled):
    g = gen(7)
    w = rnd(g, 12, 20)  # out 12 = 3·4, in 20 = 4·5
    parts = {"alpha": torch.tensor(0.5)}
    if w1_form == "full":
        w1 = parts["lokr_w1"] = rnd(g, 3, 4)
    else:
        parts["lokr_w1_a"], parts["lokr_w1_b"] = rnd(g, 3, 2), rnd(g, 2, 4)
        w1 = parts["lokr_w1_a"] @ parts["lokr_w1_b"]
    if w2_form == "full":
        w2 = parts["lokr_w2"] = rnd(g, 4, 5)
    else:
        parts["lokr_w2_a"], parts["lokr_w2_b"] = rnd(g, 4, 2), rnd(g, 2, 5)
        w2 = parts["lokr_w2_a"] @ parts["lokr_w2_b"]
    scale = 0.5 / 2 if scaled else 1.0  # rank 2 in every decomposed factor here
    close(R.merge_weight(parts, w), w + scale * kron2(w1, w2))


def test_lokr_conv_forms():
    g = gen(8)
    w3, w1x1 = rnd(g, 8, 6, 3, 3), rnd(g, 8, 6, 1, 1)  # out 8 = 2·4, in 6 = 2·3
    w1 = rnd(g, 2, 2)
    alpha = torch.tensor(1.0)
    # 1×1 conv, decomposed w2 stays 2-D (out_k, in_n)
    a, b = rnd(g, 4, 1), rnd(g, 1, 3)
    parts = {"lokr_w1": w1, "lokr_w2_a": a, "lokr_w2_b": b, "alpha": alpha}
    close(R.merge_weight(parts, w1x1), w1x1 + kron2(w1, a @ b).reshape(8, 6, 1, 1))
    # 3×3 conv, full 4-D w2 (out_k, in_n, 3, 3): unscaled
    w2 = rnd(g, 4, 3, 3, 3)
    close(R.merge_weight({"lokr_w1": w1, "lokr_w2": w2, "alpha": alpha}, w3), w3 + kron2(w1, w2))
    # 3×3 conv, decomposed flat w2: (out_k, r) @ (r, in_n·3·3)
    a, b = rnd(g, 4, 2), rnd(g, 2, 27)
    parts = {"lokr_w1": w1, "lokr_w2_a": a, "lokr_w2_b": b, "alpha": alpha}
    close(R.merge_weight(parts, w3), w3 + 0.5 * kron2(w1, (a @ b).reshape(4, 3, 3, 3)))
    # 3×3 conv, Tucker w2: lokr_t2 (r, r, 3, 3), lokr_w2_a (r, out_k), lokr_w2_b (r, in_n)
    t, a, b = rnd(g, 2, 2, 3, 3), rnd(g, 2, 4), rnd(g, 2, 3)
    parts = {"lokr_w1": w1, "lokr_w2_a": a, "lokr_w2_b": b, "lokr_t2": t, "alpha": alpha}
    close(R.merge_weight(parts, w3), w3 + 0.5 * kron2(w1, torch.einsum("pqkl,po,qi->oikl", t, a, b)))


# ------------------------------------------------------------------ DoRA
def lora_parts_for(g, w, rank=2, alpha=1.0):
    out, inn, *k = w.shape
    if k:
        up, down = rnd(g, out, rank, 1, 1), rnd(g, rank, inn, *k)
        delta = torch.einsum("or,rikl->oikl", up[:, :, 0, 0], down)
    else:
        up, down = rnd(g, out, rank), rnd(g, rank, inn)
        delta = up @ down
    return {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(alpha)}, w + alpha / rank * delta


def row_norm(t):
    return t.reshape(t.shape[0], -1).norm(dim=1)


def col_norm(t):
    return t.transpose(0, 1).reshape(t.shape[1], -1).norm(dim=1)


@pytest.mark.parametrize("shape", [(6, 10), (6, 4, 1, 1), (6, 4, 3, 3)], ids=["linear", "conv1x1", "conv3x3"])
def test_dora_lycoris_sets_the_magnitude_and_keeps_the_direction(shape):
    """DoRA's definition: the merged weight has norm dora_scale on dora_scale's axis and the
    direction of W + scale·ΔW."""
    g = gen(9)
    w = rnd(g, *shape)
    parts, adapted = lora_parts_for(g, w)
    ones = (1,) * (len(shape) - 1)
    mag_out = row_norm(w) * (1 + 0.2 * torch.rand(shape[0], generator=g))
    merged = R.merge_weight({**parts, "dora_scale": mag_out.reshape(shape[0], *ones)}, w)
    close(row_norm(merged), mag_out)
    close(merged / row_norm(merged).reshape(-1, *ones), adapted / row_norm(adapted).reshape(-1, *ones))
    mag_in = col_norm(w) * (1 + 0.2 * torch.rand(shape[1], generator=g))
    merged = R.merge_weight({**parts, "dora_scale": mag_in.reshape(1, shape[1], *ones[1:])}, w)
    close(col_norm(merged), mag_in)


def test_dora_lycoris_strength_scales_the_factor():
    g = gen(10)
    w = rnd(g, 6, 10)
    parts, adapted = lora_parts_for(g, w)
    mag = row_norm(w).reshape(6, 1) * 1.1
    factor = mag / row_norm(adapted).reshape(6, 1)
    for m in (0.0, 0.5, 1.3):
        close(R.merge_weight({**parts, "dora_scale": mag}, w, strength=m), adapted * (m * (factor - 1) + 1))


def test_dora_comfyui_output_axis_divides_by_the_unmerged_norm():
    g = gen(11)
    w = rnd(g, 6, 4, 3, 3)
    parts, adapted = lora_parts_for(g, w)
    mag = (row_norm(w) * 1.1).reshape(6, 1, 1, 1)
    wd = adapted * mag / row_norm(w).reshape(6, 1, 1, 1)
    close(R.merge_weight({**parts, "dora_scale": mag}, w, dora="comfyui"), wd)
    close(R.merge_weight({**parts, "dora_scale": mag}, w, strength=0.4, dora="comfyui"), w + 0.4 * (wd - w))
    # An untouched magnitude (‖W‖) gives back the plain LoRA in ComfyUI, not in LyCORIS.
    plain = {**parts, "dora_scale": row_norm(w).reshape(6, 1, 1, 1)}
    close(R.merge_weight(plain, w, dora="comfyui"), adapted)
    assert (R.merge_weight(plain, w) - adapted).abs().max() > 1e-3


def test_dora_comfyui_and_a1111_input_axis_agree_with_lycoris_at_strength_one():
    g = gen(12)
    w = rnd(g, 6, 10)
    parts, adapted = lora_parts_for(g, w)
    mag = (col_norm(w) * 0.9).reshape(1, 10)
    wd = adapted * mag / col_norm(adapted).reshape(1, 10)
    for variant in R.DORA_VARIANTS:
        close(R.merge_weight({**parts, "dora_scale": mag}, w, dora=variant), wd)
    for variant in ("comfyui", "a1111"):
        close(R.merge_weight({**parts, "dora_scale": mag}, w, strength=0.0, dora=variant), w)


def test_dora_a1111_broadcasts_an_output_axis_magnitude_against_input_norms():
    g = gen(13)
    w = rnd(g, 6, 10)
    parts, adapted = lora_parts_for(g, w)
    mag = row_norm(w).reshape(6, 1)
    expected = w + 0.8 * (adapted * mag / col_norm(adapted).reshape(1, 10) - w)
    close(R.merge_weight({**parts, "dora_scale": mag}, w, strength=0.8, dora="a1111"), expected)


# ------------------------------------------------------------------ input errors
def test_split_modules_groups_by_name_and_rejects_strays():
    t = torch.zeros(2, 2)
    mods = R.split_modules({"lora_unet_a.lora_up.weight": t, "lora_unet_a.lora_down.weight": t,
                            "lora_unet_a.alpha": torch.tensor(1.0), "lora_te_b.hada_w1_a": t, "lora_te_b.hada_w1_b": t,
                            "lora_te_b.hada_w2_a": t, "lora_te_b.hada_w2_b": t})
    assert {n: R.module_kind(p) for n, p in mods.items()} == {"lora_unet_a": "lora", "lora_te_b": "loha"}
    with pytest.raises(ValueError, match="hada_w1_a"):
        R.split_modules({"x.lora_up.weight": t, "x.lora_down.weight": t, "x.hada_w1_a": t})
    with pytest.raises(ValueError, match="no LoRA"):
        R.split_modules({"x.lokr_w1": t, "x.alpha": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="neither axis"):
        R.merge_weight({"lora_up.weight": torch.ones(3, 1), "lora_down.weight": torch.ones(1, 5),
                        "dora_scale": torch.ones(3)}, torch.ones(3, 5))


# ------------------------------------------------------------------ peft → file keys
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64, 32)
        self.c1 = torch.nn.Conv2d(16, 32, 1)
        self.c3 = torch.nn.Conv2d(16, 32, 3, padding=1)


def peft_net(config, seed):
    from peft import inject_adapter_in_model

    torch.manual_seed(seed)
    net = Net()
    inject_adapter_in_model(config, net)
    g = gen(seed)
    with torch.no_grad():  # trained-looking adapters (peft initialises them to a zero change)
        for name, p in net.named_parameters():
            if "base_layer" not in name:
                p.copy_(p + rnd(g, *p.shape, s=0.1) if "magnitude" in name else rnd(g, *p.shape, s=0.2))
    return net.eval()


def same_outputs(net, files):
    """peft's forward = the base layers with the file's merged weights (LyCORIS DoRA definition)."""
    g = gen(99)
    xs = {"lin": rnd(g, 3, 64, s=1.0), "c1": rnd(g, 2, 16, 5, 5, s=1.0), "c3": rnd(g, 2, 16, 5, 5, s=1.0)}
    for name, parts in files.items():
        layer = getattr(net, name)
        base = layer.get_base_layer()
        merged = R.merge_weight(parts, base.weight)
        if name == "lin":
            expected = F.linear(xs[name], merged, base.bias)
        else:
            expected = F.conv2d(xs[name], merged, base.bias, padding=base.padding)
        with torch.no_grad():
            close(layer(xs[name]), expected, tol=1e-5)


def test_peft_dora_maps_onto_lora_down_up_alpha_and_an_output_axis_dora_scale():
    """lora_A → lora_down, lora_B → lora_up, alpha as configured, lora_magnitude_vector → dora_scale
    reshaped to (out, 1) / (out, 1, 1, 1) (peft keeps conv magnitudes as (1, out, 1, 1))."""
    from peft import LoraConfig

    net = peft_net(LoraConfig(r=4, lora_alpha=2.0, target_modules=["lin", "c1", "c3"], use_dora=True), 20)
    files = {}
    for name in ("lin", "c1", "c3"):
        layer = getattr(net, name)
        mag = layer.lora_magnitude_vector["default"].weight.detach()
        w = layer.get_base_layer().weight
        files[name] = {"lora_down.weight": layer.lora_A["default"].weight,
                       "lora_up.weight": layer.lora_B["default"].weight, "alpha": torch.tensor(2.0),
                       "dora_scale": mag.reshape(w.shape[0], *(1,) * (w.dim() - 1))}
    same_outputs(net, files)


def test_peft_loha_parameters_are_the_file_tensors():
    from peft import LoHaConfig

    for effective_conv in (False, True):  # True: hada_t1 / hada_t2 on the 3×3 conv
        net = peft_net(LoHaConfig(r=4, alpha=3.0, target_modules=["lin", "c1", "c3"],
                                  use_effective_conv2d=effective_conv), 21)
        files = {}
        for name in ("lin", "c1", "c3"):
            layer = getattr(net, name)
            parts = {k: getattr(layer, k)["default"] for k in R.PARTS["loha"] if "default" in getattr(layer, k)}
            files[name] = {**parts, "alpha": torch.tensor(3.0)}
        assert ("hada_t1" in files["c3"]) == effective_conv and "hada_t1" not in files["c1"]
        same_outputs(net, files)


@pytest.mark.parametrize("r,decompose_both,full", [(2, False, False), (1, True, False), (4, False, True)],
                         ids=["w2_decomposed", "both_decomposed", "both_full"])
def test_peft_lokr_maps_onto_the_file_with_the_scale_baked_in_when_both_factors_are_full(r, decompose_both, full):
    """peft scales ΔW by alpha / r always; the loaders apply two full factors unscaled, so then the
    file's lokr_w1 carries peft's scale (and alpha = r, as LyCORIS writes lora_dim)."""
    from peft import LoKrConfig

    net = peft_net(LoKrConfig(r=r, alpha=3.0, target_modules=["lin", "c1", "c3"], decompose_both=decompose_both), 22)
    files = {}
    for name in ("lin", "c1", "c3"):
        layer = getattr(net, name)
        parts = {k: getattr(layer, k)["default"].detach() for k in R.PARTS["lokr"] if "default" in getattr(layer, k)}
        both_full = "lokr_w1" in parts and "lokr_w2" in parts
        if both_full:
            parts["lokr_w1"] = parts["lokr_w1"] * layer.scaling["default"]
        files[name] = {**parts, "alpha": torch.tensor(float(r) if both_full else 3.0)}
    assert ("lokr_w2" in files["lin"]) == full
    same_outputs(net, files)


# ------------------------------------------------------------------ whole files, SD1.5 / SDXL names
def lora_targets(model, blocks):
    """Paths of the Linear / Conv2d layers inside ``blocks`` (kohya's LoCon targets: UNet attention and
    ResNet / down / up-sampler blocks, CLIP attention and MLP)."""
    return [p for p, m in model.named_modules()
            if type(m).__name__ in ("Linear", "Conv2d") and any(f".{b}." in f".{p}" for b in blocks)]


def random_kohya_file(pipe, family, seed):
    """A LoCon-shaped kohya file (rank 2, alpha 1; 3×3 convs alpha 3) on the UNet and text encoders."""
    from tui_lora.core.train.kohya_names import te_namer, unet_namer

    g = gen(seed)
    sd = {}
    tes = [pipe.text_encoder] + ([pipe.text_encoder_2] if family == "sdxl" else [])
    unet_blocks = ("attentions", "resnets", "downsamplers", "upsamplers")
    comps = [(pipe.unet, unet_blocks, unet_namer(family, dict(pipe.unet.config)))]
    comps += [(te, ("self_attn", "mlp"), te_namer(family, i)) for i, te in enumerate(tes)]
    for model, blocks, namer in comps:
        modules = dict(model.named_modules())
        for path in lora_targets(model, blocks):
            w = modules[path].weight
            name = namer(path)
            k = tuple(w.shape[2:])
            sd[f"{name}.lora_down.weight"] = rnd(g, 2, w.shape[1], *k, s=0.3)
            sd[f"{name}.lora_up.weight"] = rnd(g, w.shape[0], 2, *((1, 1) if k else ()), s=0.3)
            sd[f"{name}.alpha"] = torch.tensor(3.0 if k and k != (1, 1) else 1.0)
    return sd, tes


def run_models(pipe, family, tes):
    g = gen(5)
    ids = torch.randint(0, pipe.tokenizer.vocab_size, (1, 8), generator=g)
    hidden = [te(ids, output_hidden_states=True).hidden_states[-2] for te in tes]
    cond = torch.cat(hidden, dim=-1)
    x = torch.randn(1, 4, 8, 8, generator=g)
    kw = {}
    if family == "sdxl":
        pooled = torch.randn(1, pipe.text_encoder_2.config.projection_dim, generator=g)
        kw["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    return hidden, pipe.unet(x, torch.tensor([500]), cond, **kw).sample


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_merge_file_names_every_module_as_diffusers_loader_does(tmp_path, request, family):
    """The same random file: diffusers' load_lora_weights (its kohya converter, SGM names for SDXL)
    and merge_file on a fresh copy give the same text encoders and UNet."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    from safetensors.torch import save_file

    model = request.getfixturevalue(f"tiny_{family}")
    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    base = cls.from_pretrained(model)
    sd, tes = random_kohya_file(base, family, seed=30)
    path = tmp_path / "lora.safetensors"
    save_file({k: v.to(torch.float16).contiguous() for k, v in sd.items()}, str(path))

    with torch.no_grad():
        base_hidden, base_out = run_models(base, family, tes)
        names = R.merge_file(path, family, unet=base.unet, text_encoders=tes)
        merged_hidden, merged_out = run_models(base, family, tes)
        loaded = cls.from_pretrained(model)
        loaded.load_lora_weights(str(path))
        loaded_tes = [loaded.text_encoder] + ([loaded.text_encoder_2] if family == "sdxl" else [])
        loaded_hidden, loaded_out = run_models(loaded, family, loaded_tes)

    assert len(names) == len({k.split(".")[0] for k in sd}) and any("te" in n for n in names)
    assert (merged_out - base_out).abs().max() > 1e-2
    close(merged_out, loaded_out, tol=1e-4)
    for m, lo, b in zip(merged_hidden, loaded_hidden, base_hidden):
        assert (m - b).abs().max() > 1e-2
        close(m, lo, tol=1e-4)
    with pytest.raises(KeyError, match="no layer"):
        R.merge_file({"lora_unet_nowhere.lora_up.weight": torch.zeros(1, 1),
                      "lora_unet_nowhere.lora_down.weight": torch.zeros(1, 1)}, family, unet=base.unet)
