"""Apply a LoRA file by merging it into the model's weights, one weight at a time, as the loaders do.

diffusers' ``load_lora_weights`` reads kohya LoRA / LoCon but not LyCORIS's LoHa (``.hada_*``) or
LoKr (``.lokr_*``), and drops DoRA's ``.dora_scale`` (loading the rest as a plain LoRA), so the
comparison merges those files itself. Per module of the file, in float32 (as ComfyUI patches):

- ΔW: LoRA ``up @ down`` (``lora_mid``: the Tucker core between them); LoHa ``(w1a·w1b) ⊙ (w2a·w2b)``
  (``hada_t1/t2``: Tucker cores); LoKr ``w1 ⊗ w2`` (each factor full or ``a @ b``; ``lokr_t2``: Tucker),
  reshaped to the weight's shape;
- scale: ``alpha / rank`` (rank: ``lora_down`` rows, ``hada_w1_b`` rows, LoKr ``w2_b`` rows or else
  ``w1_b`` rows); LoKr with two full factors and any file without ``alpha``: 1;
- no DoRA: ``W + strength · scale · ΔW``;
- DoRA: ``W' = W + scale · ΔW`` rescaled to ``dora_scale`` along its axis (``(out, 1…)``: per output row,
  ``(1, in, …)``: per input column), ``W_d = W' · dora_scale / ‖W'‖`` — LyCORIS's definition, what
  training computes — and at a strength s ``W + s · (W_d − W)``, the way ComfyUI, Forge and A1111
  scale a DoRA module (so strength 0 is the base model).

``tests/reference_merge.py``, written separately from the loaders' sources, is what this is tested
against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tui_lora.core.errors import ChangeInput, ChangeSetting, Fix, Given, UserError

if TYPE_CHECKING:
    import torch

# Parts after "<module>." that a LyCORIS-style merge is needed for (diffusers loads the rest).
MERGE_ONLY = ("hada_", "lokr_", "dora_scale")
_KNOWN = {
    "lora": {"lora_up.weight", "lora_down.weight", "lora_mid.weight"},
    "loha": {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2"},
    "lokr": {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2"},
}
_EPS = 1.1920928955078125e-07  # float32 eps, LyCORIS's and ComfyUI's guard against a zero norm


def needs_merge(keys: list[str]) -> bool:
    """True for a file diffusers cannot load as it is (LoHa, LoKr, DoRA)."""
    return any(key.partition(".")[2].startswith(MERGE_ONLY) for key in keys)


def group(sd: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``{module name: {part: tensor}}`` from a file's tensors."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in sd.items():
        name, _, part = key.partition(".")
        out.setdefault(name, {})[part] = tensor
    return out


def kind_of(parts: Mapping[str, torch.Tensor]) -> str:
    """"lora", "loha" or "lokr" by the parts present; ValueError for anything else."""
    for kind, known in _KNOWN.items():
        if set(parts) - {"alpha", "dora_scale"} <= known and any(p in parts for p in known):
            return kind
    raise ValueError(f"unknown module parts {sorted(parts)}")


def _t(x: torch.Tensor) -> torch.Tensor:
    import torch

    return x.detach().to(torch.float32)


def _tucker(core: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rebuild a (out, in, kh, kw) factor from its Tucker core (r, r, kh, kw), ``a`` (r, out), ``b`` (r, in)."""
    import torch

    return torch.einsum("pqkl,po,qi->oikl", _t(core), _t(a), _t(b))


def _scale(parts: Mapping[str, torch.Tensor], rank: int | None) -> float:
    alpha = parts.get("alpha")
    return 1.0 if alpha is None or rank is None else float(alpha.item()) / rank


def delta(parts: Mapping[str, torch.Tensor], shape: tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """(ΔW in float32 shaped like the weight, the scale the loaders apply to it) of one module."""
    import torch

    kind = kind_of(parts)
    if kind == "lora":
        up, down = _t(parts["lora_up.weight"]), _t(parts["lora_down.weight"])
        rank = down.shape[0]
        if "lora_mid.weight" in parts:
            mid = _t(parts["lora_mid.weight"])  # (r, r, kh, kw) between a 1×1 down and a 1×1 up
            return torch.einsum("or,rmkl,mi->oikl", up.flatten(1), mid, down.flatten(1)).reshape(shape), \
                _scale(parts, rank)
        return (up.flatten(1) @ down.flatten(1)).reshape(shape), _scale(parts, rank)
    if kind == "loha":
        rank = parts["hada_w1_b"].shape[0]
        factors = []
        for i in ("1", "2"):
            a, b = parts[f"hada_w{i}_a"], parts[f"hada_w{i}_b"]
            core = parts.get(f"hada_t{i}")
            factors.append(_tucker(core, a, b) if core is not None else _t(a) @ _t(b))
        return (factors[0] * factors[1]).reshape(shape), _scale(parts, rank)
    rank = None
    if "lokr_w1" in parts:
        w1 = _t(parts["lokr_w1"])
    else:
        w1, rank = _t(parts["lokr_w1_a"]) @ _t(parts["lokr_w1_b"]), parts["lokr_w1_b"].shape[0]
    if "lokr_w2" in parts:
        w2 = _t(parts["lokr_w2"])
    else:
        rank = parts["lokr_w2_b"].shape[0]
        if "lokr_t2" in parts:
            w2 = _tucker(parts["lokr_t2"], parts["lokr_w2_a"], parts["lokr_w2_b"])
        else:
            w2 = _t(parts["lokr_w2_a"]) @ _t(parts["lokr_w2_b"])
    if w2.dim() == 4:
        w1 = w1.reshape(*w1.shape, 1, 1)
    return torch.kron(w1.contiguous(), w2.contiguous()).reshape(shape), _scale(parts, rank)


def _axis_norm(w: torch.Tensor, per_row: bool) -> torch.Tensor:
    """‖w‖ per output row (``per_row``) or per input column, shaped to broadcast against ``w``."""
    import torch

    dims = tuple(d for d in range(w.dim()) if d != (0 if per_row else 1))
    return torch.linalg.vector_norm(w, dim=dims, keepdim=True)


def merged(parts: Mapping[str, torch.Tensor], weight: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """The float32 weight of one layer with one file module merged in at ``strength``."""
    w = _t(weight)
    d, scale = delta(parts, tuple(w.shape))
    dora_scale = parts.get("dora_scale")
    if dora_scale is None:
        return w + (strength * scale) * d
    m = _t(dora_scale)
    adapted = w + scale * d
    ones = (1,) * (w.dim() - 1)
    if tuple(m.shape) == (w.shape[0], *ones):
        per_row = True
    elif tuple(m.shape) == (1, w.shape[1], *ones[1:]):
        per_row = False
    else:
        raise ValueError(f"dora_scale {tuple(m.shape)} fits no axis of a weight {tuple(w.shape)}")
    decomposed = adapted * (m / (_axis_norm(adapted, per_row) + _EPS))
    return w + strength * (decomposed - w)


def layer_index(model: torch.nn.Module, namer: Callable[[str], str]) -> dict[str, torch.nn.Module]:
    """``{kohya module name: layer}`` for the Linear and Conv2d layers of ``model`` that ``namer`` names."""
    out = {}
    for path, module in model.named_modules():
        if type(module).__name__ in ("Linear", "Conv2d"):
            try:
                out[namer(path)] = module
            except ValueError:  # SDXL: conv_in, time_embedding … have no kohya name (and no LoRA)
                continue
    return out


class WeightMerger:
    """Merges one file at a time into the layers of ``index`` and puts the original weights back
    (kept on the CPU) before the next one, so no file leaks into another."""

    def __init__(self, index: dict[str, torch.nn.Module]) -> None:
        self.index = index
        self._originals: dict[str, torch.Tensor] = {}

    def apply(self, sd: Mapping[str, torch.Tensor], strength: float, *, label: str = "the file") -> None:
        import torch

        self.restore()
        modules = group(sd)
        missing = [name for name in modules if name not in self.index]
        if missing:
            raise UserError(f"{label} has {len(missing)} module(s) this base model does not have (e.g. {missing[0]})",
                            Fix("compare it on the model it was trained on ({} or {})",
                                ChangeSetting("model.pretrained_model_name_or_path", verb=""), Given("base_model")))
        with torch.no_grad():
            for name, parts in modules.items():
                layer = self.index[name]
                try:
                    new = merged(parts, layer.weight, strength)
                except (ValueError, RuntimeError, KeyError) as exc:
                    self.restore()
                    raise UserError(f"{label} cannot be applied ({name}: {exc})",
                                    Fix("retrain that epoch or {}",
                                        ChangeInput("compare.epochs", verb="leave it out with"))) from None
                self._originals[name] = layer.weight.detach().to("cpu", copy=True)
                layer.weight.copy_(new.to(layer.weight.dtype))

    def restore(self) -> None:
        import torch

        with torch.no_grad():
            for name, original in self._originals.items():
                w = self.index[name].weight
                w.copy_(original.to(w.device))
        self._originals.clear()
