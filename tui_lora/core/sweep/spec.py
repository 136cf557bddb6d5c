"""What a sweep trains: ``--vary section.key=v1,v2`` read into :class:`Vary`, every combination a
:class:`Variant` with its ``section.key=value`` overrides and a label made of the varied values
(``lr5e-4_dim16``). No torch: a bad key or value fails here, before anything starts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from tui_lora.core import settings as S
from tui_lora.core.errors import ChangeInput, ConfigError, Fix, Given, UserError, Words

MAX_WITHOUT_CONFIRM = 16  # more variants than this is a lot of training: the user confirms it
MAX_VARIANTS = 256
EXAMPLE = "training.unet_lr=1e-4,5e-4"
NAME_ONE = Fix("{}", ChangeInput("sweep.vary", EXAMPLE, verb="e.g."))

# Short names for the keys people vary most (the guides' "LR in the model's name"); others use the key's name.
SHORT: dict[str, str] = {
    "training.unet_lr": "lr",
    "training.text_encoder_lr": "telr",
    "network.network_dim": "dim",
    "network.network_alpha": "alpha",
    "network.conv_dim": "convdim",
    "network.conv_alpha": "convalpha",
    "network.network_type": "",
    "training.optimizer_type": "",
    "training.lr_scheduler": "",
    "training.max_train_epochs": "ep",
    "training.max_train_steps": "steps",
    "training.train_batch_size": "bs",
    "training.seed": "seed",
    "training.min_snr_gamma": "snr",
    "training.noise_offset": "noise",
    "training.lr_warmup_ratio": "warmup",
    "dataset.resolution": "res",
}
# Words for row labels and the wizard ("lr 5e-4, dim 16").
WORDS: dict[str, str] = {"training.unet_lr": "lr", "training.text_encoder_lr": "TE lr", "network.network_dim": "dim",
                         "network.network_alpha": "alpha"}

# Keys a variant may not change, and why.
_FIXED = {
    "project": "it names the project, not the training",
    "sample": "sample images do not change what the LoRA learns",
    "tags": "it is a tagging setting",
    "output.output_name": "each variant's files are named after the project and its label",
}


@dataclass(frozen=True)
class Vary:
    key: str  # section.key
    values: tuple[Any, ...]  # checked values, in the order given, no duplicates
    texts: tuple[str, ...]  # as typed (what an override gets)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "values": list(self.values), "texts": list(self.texts)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vary:
        return cls(str(d["key"]), tuple(d["values"]), tuple(str(t) for t in d["texts"]))


@dataclass(frozen=True)
class Variant:
    label: str  # lr5e-4_dim16: folder and file names
    values: dict[str, Any] = field(hash=False)  # section.key → value
    overrides: tuple[str, ...] = ()  # section.key=value, for the trainer

    def describe(self) -> str:
        """The varied values in words: "lr 5e-4, dim 16"."""
        return ", ".join(f"{WORDS.get(k, k.split('.', 1)[1])} {value_text(v)}" for k, v in self.values.items())

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "values": dict(self.values), "overrides": list(self.overrides)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        return cls(str(d["label"]), dict(d["values"]), tuple(str(o) for o in d["overrides"]))


def value_text(v: Any) -> str:
    """A value as short as it reads: 0.0005 → 5e-4, 16.0 → 16, True → on."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-2:
            mantissa, _, exponent = f"{v:.6e}".partition("e")
            mantissa = mantissa.rstrip("0").rstrip(".")
            return f"{mantissa}e{int(exponent)}"
        return f"{v:g}"
    return str(v)


def _label_part(dotted: str, value: Any) -> str:
    prefix = SHORT.get(dotted, S.key(dotted).name.replace("_", ""))
    text = re.sub(r"[^A-Za-z0-9.+-]", "", value_text(value)) or "x"
    return prefix + text


def parse_vary(text: str) -> Vary:
    """``section.key=v1,v2`` → a :class:`Vary`; each value is checked like ``--set``."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or "." not in name:
        raise ConfigError(Words("{} is not of the form section.key=v1,v2", Given("sweep.vary", repr(text))),
                          Fix("{}", ChangeInput("sweep.vary", EXAMPLE, verb="write e.g.")))
    k = S.key(name)
    for prefix, why in _FIXED.items():
        if name == prefix or name.startswith(prefix + "."):
            raise ConfigError(f"{name} cannot differ between variants because {why}; vary a training, network, "
                              "dataset or model setting.")
    if k.kind == S.STR_LIST:
        raise ConfigError(f"{name} holds a list, which a sweep cannot vary; vary a single-value setting.")
    texts = [t.strip() for t in raw.split(",") if t.strip()]
    if not texts:
        raise ConfigError(Words("{} has no values", Given("sweep.vary", name + "=")),
                          Fix(f"list them separated by commas, e.g. {name}=1e-4,5e-4"))
    values: list[Any] = []
    kept: list[str] = []
    for t in texts:
        value = S.parse_text(k, t, where=Given("sweep.vary", name))
        if value not in values:
            values.append(value)
            kept.append(t)
    return Vary(name, tuple(values), tuple(kept))


def parse_varies(texts: list[str]) -> list[Vary]:
    if not texts:
        raise UserError("A sweep needs at least one setting to vary", NAME_ONE)
    varies = [parse_vary(t) for t in texts]
    seen: set[str] = set()
    for v in varies:
        if v.key in seen:
            raise ConfigError(f"{v.key} is varied twice; give all its values in one list, e.g. "
                              f"{v.key}={','.join(v.texts)}.")
        seen.add(v.key)
    return varies


def combinations(varies: list[Vary]) -> list[Variant]:
    """Every combination of the values, the first setting varying slowest; labels are unique."""
    out: list[Variant] = []
    labels: set[str] = set()
    for combo in itertools.product(*(range(len(v.values)) for v in varies)):
        values = {v.key: v.values[i] for v, i in zip(varies, combo)}
        overrides = tuple(f"{v.key}={_override_text(v.values[i])}" for v, i in zip(varies, combo))
        label = "_".join(_label_part(k, val) for k, val in values.items())
        base, n = label, 2
        while label in labels:
            label, n = f"{base}-{n}", n + 1
        labels.add(label)
        out.append(Variant(label, values, overrides))
    return out


def _override_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def count_variants(varies: list[Vary]) -> int:
    n = 1
    for v in varies:
        n *= len(v.values)
    return n


class SweepTooLarge(UserError):
    """More variants than :data:`MAX_WITHOUT_CONFIRM`: the user has to confirm (``count`` of them)."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__(message)
        self.count = count


def plan_variants(project, varies: list[Vary], *, confirmed: bool = False) -> list[Variant]:
    """The variants of ``varies``, each checked against the project like ``--set`` (two-key rules
    included) before anything starts; more than 16 needs ``confirmed``."""
    from tui_lora.core.setting_rules import check_training_overrides

    n = count_variants(varies)
    if n > MAX_VARIANTS:
        raise UserError(f"The sweep makes {n} variants, more than {MAX_VARIANTS}; vary fewer settings or values.")
    if n > MAX_WITHOUT_CONFIRM and not confirmed:
        raise SweepTooLarge(f"The sweep makes {n} variants, each a full training; confirm that many, or vary "
                            "fewer values.", count=n)
    variants = combinations(varies)
    for v in variants:
        check_training_overrides(list(v.overrides))
        try:
            project.effective_settings(list(v.overrides))
        except ConfigError as exc:
            raise ConfigError(exc.problem.prefixed(f"Variant {v.label}: "), exc.fix) from None
    return variants
