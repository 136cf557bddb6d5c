"""Reference merge of kohya / LyCORIS LoRA files: the weights the loaders compute (ground truth for tests).

Written from the loaders' source (read, not copied), so a saved file can be checked against the model
it was trained as:

- ComfyUI (Comfy-Org/ComfyUI a125cd8): ``comfy/lora.py`` ``load_lora`` (``<name>.alpha`` read with
  ``.item()``, ``<name>.dora_scale`` handed to every adapter), ``comfy/weight_adapter/lora.py``,
  ``loha.py``, ``lokr.py`` (``calculate_weight``) and ``base.py`` (``weight_decompose``). Forge uses the
  same ``weight_decompose``. The model weight is upcast to float32 before patching
  (``comfy/model_patcher.py``), so everything here runs in float32.
- LyCORIS (KohakuBlueleaf/LyCORIS f49d30d): ``lycoris/modules/locon.py``, ``loha.py``, ``lokr.py``
  (``apply_weight_decompose``, the module ``forward``), ``lycoris/functional/general.py``.
- AUTOMATIC1111 (extensions-builtin/Lora): ``network.py`` (``calc_scale``, ``finalize_updown``,
  ``apply_weight_decompose`` after PR #16151), ``network_lora.py``, ``network_hada.py``,
  ``network_lokr.py``, ``lyco_helpers.py``; ``networks.py`` adds the result to the weight.

For LoRA, LoHa and LoKr the three loaders agree: ``W + strength * scale * ΔW`` (LyCORIS: its module
``forward``; its ``get_merged_weight`` applies the LoHa/LoKr scale twice, a bug not reproduced here;
ComfyUI fails on ``lokr_t2``, see ``lokr_delta``). They differ for DoRA (``.dora_scale``), so
``merge_weight`` takes ``dora=`` one of ``DORA_VARIANTS``:

- ``"lycoris"``: LyCORIS's definition. ``W' = W + scale * ΔW``; the norm of ``W'`` is taken on the axis
  ``dora_scale`` has (shape ``(out, 1, …)``: per output row; ``(1, in, …)``: per input column);
  ``W' * dora_scale / (‖W'‖ + eps)``. A strength ``m`` != 1 scales the factor, not the difference:
  ``W' * (m * (dora_scale / ‖W'‖ - 1) + 1)`` (so strength 0 still leaves ``W'``).
- ``"comfyui"``: as LyCORIS on the input axis; on the output axis ComfyUI divides by the norm of the
  *original* ``W`` instead of ``W'``. Strength interpolates: ``W + m * (W_dora - W)``.
- ``"a1111"``: the norm is always per input column of ``W'`` (no eps), whatever axis ``dora_scale`` has
  (an output-axis ``dora_scale`` is broadcast, not rejected). Strength: ``W + m * (W_dora - W)``.

Only torch and ``tui_lora.core.train.kohya_names`` are used, so this can move into core unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from tui_lora.core.train.kohya_names import te_namer, unet_namer

Tensor = torch.Tensor
DORA_VARIANTS = ("lycoris", "comfyui", "a1111")

# Per module type, the tensor names after ``<kohya name>.``; "alpha" and "dora_scale" go with all.
PARTS = {
    "lora": {"lora_up.weight", "lora_down.weight", "lora_mid.weight"},
    "loha": {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2"},
    "lokr": {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2"},
}
COMMON = {"alpha", "dora_scale"}
# float32 eps: LyCORIS (weight cast to the float32 dora_scale) and ComfyUI (float32 weight) add it.
EPS = torch.finfo(torch.float32).eps


def split_modules(sd: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``{kohya name: {part: tensor}}`` from a file's tensors (``lora_unet_x.lora_up.weight`` →
    ``"lora_unet_x"``, ``"lora_up.weight"``). An unknown part is an error, where ComfyUI would only
    log "lora key not loaded": a test must not pass with half a module ignored."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in sd.items():
        name, sep, part = key.partition(".")
        if not sep:
            raise ValueError(f"{key!r} is not '<module>.<part>'")
        out.setdefault(name, {})[part] = tensor
    for name, parts in out.items():
        kind = module_kind(parts)
        unknown = set(parts) - PARTS[kind] - COMMON
        if unknown:
            raise ValueError(f"{name}: parts {sorted(unknown)} do not belong to a {kind} module")
    return out


def module_kind(parts: Mapping[str, Any]) -> str:
    """"lora", "loha" or "lokr", detected by the keys as the loaders do (ComfyUI's ``*.load``,
    A1111's ``ModuleType*.create_module``)."""
    if "lora_up.weight" in parts and "lora_down.weight" in parts:
        return "lora"
    if all(k in parts for k in ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")):
        return "loha"
    has_1 = "lokr_w1" in parts or ("lokr_w1_a" in parts and "lokr_w1_b" in parts)
    has_2 = "lokr_w2" in parts or ("lokr_w2_a" in parts and "lokr_w2_b" in parts)
    if has_1 and has_2:
        return "lokr"
    raise ValueError(f"no LoRA / LoHa / LoKr module in parts {sorted(parts)}")


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32)


def _alpha(parts: Mapping[str, torch.Tensor]) -> float | None:
    # comfy/lora.py load_lora: alpha = lora["<name>.alpha"].item(); absent → None (scale 1).
    a = parts.get("alpha")
    return None if a is None else float(a.item())


def _scale(alpha: float | None, rank: int | None) -> float:
    # ComfyUI: ``alpha = v[2] / rank if v[2] is not None else 1.0``; A1111 calc_scale: alpha / dim
    # when both are known, else 1. An alpha of 0 in a file gives scale 0 in both (only LyCORIS's
    # trainer reads 0 as "alpha = rank"), so writers must store the effective alpha.
    if alpha is None or rank is None:
        return 1.0
    return alpha / rank


def lora_delta(parts: Mapping[str, torch.Tensor], shape: torch.Size | tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """(ΔW = up @ down reshaped to ``shape``, alpha / rank). comfy/weight_adapter/lora.py
    ``calculate_weight``: ``mm(up.flatten(1), down.flatten(1))``; a conv ``lora_down`` is
    ``(rank, in, kh, kw)`` and ``lora_up`` ``(out, rank, 1, 1)``. With ``lora_mid`` (LoCon's Tucker form,
    ``(rank, rank, kh, kw)``, down then ``(rank, in, 1, 1)``) the down is first rebuilt as
    ``down'[r, i, k, l] = Σ_m down[m, i] · mid[r, m, k, l]``."""
    up = _f32(parts["lora_up.weight"])
    down = _f32(parts["lora_down.weight"])
    rank = down.shape[0]
    mid = parts.get("lora_mid.weight")
    if mid is not None:
        down = torch.einsum("mi,rmkl->rikl", down.flatten(1), _f32(mid))
    delta = (up.flatten(1) @ down.flatten(1)).reshape(shape)
    return delta, _scale(_alpha(parts), rank)


def loha_delta(parts: Mapping[str, torch.Tensor], shape: torch.Size | tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """(ΔW = (w1_a @ w1_b) ⊙ (w2_a @ w2_b) reshaped to ``shape``, alpha / rank), rank = ``hada_w1_b``
    rows. comfy/weight_adapter/loha.py ``calculate_weight``; A1111 network_hada.py. A conv without
    Tucker has ``w*_a (out, rank)``, ``w*_b (rank, in·kh·kw)``. With ``hada_t1/t2`` (rank, rank, kh, kw)
    and ``w*_a (rank, out)``, ``w*_b (rank, in)``: ``m[p, r, k, l] = Σ_ij t[i, j, k, l] · w_a[i, p] ·
    w_b[j, r]`` (the einsum of ComfyUI and LyCORIS functional/loha.py)."""
    w1a, w1b = _f32(parts["hada_w1_a"]), _f32(parts["hada_w1_b"])
    w2a, w2b = _f32(parts["hada_w2_a"]), _f32(parts["hada_w2_b"])
    rank = w1b.shape[0]
    if parts.get("hada_t1") is not None:
        m1 = torch.einsum("ijkl,jr,ip->prkl", _f32(parts["hada_t1"]), w1b, w1a)
        m2 = torch.einsum("ijkl,jr,ip->prkl", _f32(parts["hada_t2"]), w2b, w2a)
    else:
        m1, m2 = w1a @ w1b, w2a @ w2b
    return (m1 * m2).reshape(shape), _scale(_alpha(parts), rank)


def lokr_delta(parts: Mapping[str, torch.Tensor], shape: torch.Size | tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """(ΔW = w1 ⊗ w2 reshaped to ``shape``, scale). comfy/weight_adapter/lokr.py ``calculate_weight``;
    A1111 network_lokr.py. ``w1`` is ``lokr_w1`` or ``lokr_w1_a @ lokr_w1_b``; ``w2`` is ``lokr_w2``,
    ``lokr_w2_a @ lokr_w2_b`` or, with ``lokr_t2``, the Tucker rebuild as in LoHa. A 4-D ``w2`` (conv)
    gets ``w1`` unsqueezed to ``(a, c, 1, 1)`` before ``torch.kron``. (ComfyUI a125cd8 passes the
    Tucker einsum's strided output to ``torch.kron``, which raises; it logs "ERROR lokr" and leaves the
    weight unmerged. A file meant for ComfyUI must not use ``lokr_t2``.)

    Scale: alpha / rank only when a factor is decomposed, rank = ``lokr_w2_b`` rows if w2 is
    decomposed, else ``lokr_w1_b`` rows; two full matrices are applied unscaled whatever ``alpha``
    says (LyCORIS itself stores alpha = lora_dim then, lokr.py ``if self.use_w2 and self.use_w1``)."""
    rank = None
    if parts.get("lokr_w1") is not None:
        w1 = _f32(parts["lokr_w1"])
    else:
        rank = parts["lokr_w1_b"].shape[0]
        w1 = _f32(parts["lokr_w1_a"]) @ _f32(parts["lokr_w1_b"])
    if parts.get("lokr_w2") is not None:
        w2 = _f32(parts["lokr_w2"])
    else:
        rank = parts["lokr_w2_b"].shape[0]
        w2a, w2b = _f32(parts["lokr_w2_a"]), _f32(parts["lokr_w2_b"])
        if parts.get("lokr_t2") is not None:
            w2 = torch.einsum("ijkl,jr,ip->prkl", _f32(parts["lokr_t2"]), w2b, w2a)
        else:
            w2 = w2a @ w2b
    if w2.dim() == 4:
        w1 = w1[:, :, None, None]
    # contiguous: torch.kron fails on the einsum's strided output (LyCORIS and A1111 make_kron do it)
    return torch.kron(w1, w2.contiguous()).reshape(shape), _scale(_alpha(parts), rank)


DELTAS = {"lora": lora_delta, "loha": loha_delta, "lokr": lokr_delta}


def delta_weight(parts: Mapping[str, torch.Tensor], shape: torch.Size | tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """(unscaled ΔW in float32, the scale the loaders multiply it by) for one module."""
    return DELTAS[module_kind(parts)](parts, tuple(shape))


def dora_axis(dora_scale: torch.Tensor, weight: torch.Tensor) -> str:
    """"out" for a magnitude per output row (shape ``(out, 1, …)``, what peft and LyCORIS's default
    ``wd_on_output=True`` train), "in" for one per input column (``(1, in, …)``)."""
    shape, ndim = tuple(dora_scale.shape), weight.dim()
    if shape == (weight.shape[0],) + (1,) * (ndim - 1):
        return "out"
    if shape == (1, weight.shape[1]) + (1,) * (ndim - 2):
        return "in"
    raise ValueError(f"dora_scale of shape {shape} fits neither axis of a weight of shape {tuple(weight.shape)}")


def axis_norm(weight: torch.Tensor, axis: str) -> torch.Tensor:
    """L2 norm per output row ("out") or per input column ("in", over the output and kernel dims),
    shaped to broadcast against ``weight`` (LyCORIS ``apply_weight_decompose``)."""
    ones = [1] * (weight.dim() - 1)
    if axis == "out":
        return weight.reshape(weight.shape[0], -1).norm(dim=1).reshape(weight.shape[0], *ones)
    t = weight.transpose(0, 1)
    return t.reshape(t.shape[0], -1).norm(dim=1).reshape(t.shape[0], *ones).transpose(0, 1)


def dora_lycoris(weight: Tensor, adapted: Tensor, dora_scale: Tensor, strength: float) -> Tensor:
    """LyCORIS modules/locon.py ``apply_weight_decompose(W + scale·ΔW, multiplier)``."""
    factor = dora_scale / (axis_norm(adapted, dora_axis(dora_scale, weight)) + EPS)
    if strength != 1:
        factor = strength * (factor - 1) + 1
    return adapted * factor


def dora_comfyui(weight: Tensor, adapted: Tensor, dora_scale: Tensor, strength: float) -> Tensor:
    """comfy/weight_adapter/base.py ``weight_decompose``: output axis when ``dora_scale.shape[0] ==
    out`` and then the norm of the unmerged ``weight``; else the input-axis norm of ``W'``."""
    if dora_scale.shape[0] == weight.shape[0]:
        norm = axis_norm(weight, "out")
    else:
        norm = axis_norm(adapted, "in")
    merged = adapted * (dora_scale / (norm + EPS))
    if strength == 1:
        return merged
    return weight + strength * (merged - weight)


def dora_a1111(weight: Tensor, adapted: Tensor, dora_scale: Tensor, strength: float) -> Tensor:
    """A1111 network.py ``finalize_updown``: ``updown * calc_scale()``, then ``apply_weight_decompose``
    (input-axis norm of ``W'``, no eps, ``dora_scale`` broadcast as it is), minus ``W``, times the
    multiplier; networks.py adds it to the weight."""
    merged = adapted * (dora_scale / axis_norm(adapted, "in"))
    return weight + (merged - weight) * strength


DORA = {"lycoris": dora_lycoris, "comfyui": dora_comfyui, "a1111": dora_a1111}


def merge_weight(parts: Mapping[str, torch.Tensor], weight: torch.Tensor, *, strength: float = 1.0,
                 dora: str = "lycoris") -> torch.Tensor:
    """The merged float32 weight for one module of a file at ``strength`` (the LoRA weight the user
    sets). Without ``dora_scale``: ``W + strength · scale · ΔW`` (all loaders). With it, per ``dora``."""
    if dora not in DORA:
        raise ValueError(f"dora must be one of {DORA_VARIANTS}, not {dora!r}")
    w = _f32(weight)
    delta, scale = delta_weight(parts, w.shape)
    dora_scale = parts.get("dora_scale")
    if dora_scale is None:
        return w + (strength * scale) * delta
    return DORA[dora](w, w + scale * delta, _f32(dora_scale), strength)


def module_index(model: torch.nn.Module, namer) -> dict[str, torch.nn.Module]:
    """``{kohya name: module}`` for every Linear / Conv2d of ``model`` that ``namer`` can name
    (``kohya_names.unet_namer`` / ``te_namer``; the SDXL namer raises for conv_in, time_embedding …)."""
    out: dict[str, torch.nn.Module] = {}
    for path, module in model.named_modules():
        if type(module).__name__ not in ("Linear", "Conv2d"):
            continue
        try:
            name = namer(path)
        except ValueError:
            continue
        if name in out:
            raise ValueError(f"two modules map to {name!r}")
        out[name] = module
    return out


def merge_file(sd: Mapping[str, torch.Tensor] | str | Path, family: str, *, unet: torch.nn.Module | None = None,
               text_encoders: Iterable[torch.nn.Module] = (), strength: float = 1.0,
               dora: str = "lycoris") -> list[str]:
    """Merge a whole kohya / LyCORIS file into diffusers modules in place, as the loaders would.

    ``family`` is "sd15" or "sdxl" (SDXL UNet names are kohya's SGM names, text encoders
    ``lora_te1_`` / ``lora_te2_``); ``text_encoders`` in pipeline order. Every module in the file must
    find its layer (a name the models do not have is a KeyError: a wrong mapping must not pass as
    "LoRA had no effect"). Returns the merged module names."""
    if isinstance(sd, (str, Path)):
        from safetensors.torch import load_file

        sd = load_file(str(sd))
    modules = split_modules(sd)
    index: dict[str, torch.nn.Module] = {}
    if unet is not None:
        index.update(module_index(unet, unet_namer(family, dict(unet.config))))
    for i, te in enumerate(text_encoders):
        index.update(module_index(te, te_namer(family, i)))
    missing = sorted(n for n in modules if n not in index)
    if missing:
        raise KeyError(f"{len(missing)} module(s) in the file have no layer in the given models: {missing[:5]}")
    with torch.no_grad():
        for name, parts in modules.items():
            layer = index[name]
            merged = merge_weight(parts, layer.weight, strength=strength, dora=dora)
            layer.weight.copy_(merged.to(layer.weight.dtype))
    return sorted(modules)
