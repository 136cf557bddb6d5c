"""The schema of project.toml, declared once as typed, frozen section classes.

Each ``[section]`` is a frozen dataclass (:class:`TrainingSettings` …) whose fields are its keys:
the field's type is the key's kind, its default the default, and :func:`~.schema.setting` adds the
help text (what the wizard's ``?`` shows: the why, as the community guides put it) and the allowed
values (choices of optimizer, scheduler, network type and sampler come from :mod:`.registry`). The
section classes are declared in :mod:`.settings_sources` (project, model, dataset, tags) and
:mod:`.settings_training` (network, training, sample, output); this module puts them together.
:class:`Settings` holds one of each; :data:`KEYS` is derived from the classes and drives validation,
``--set`` parsing and the docs. Keys use kohya sd-scripts' names; validation errors name the key,
the bad value and what is allowed, in one sentence.
"""

# No ``from __future__ import annotations`` here: the fields' types are read at import (they are
# the keys' kinds), and real type objects cost nothing to read where strings would be evaluated.
import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui_lora.core.errors import ChangeInput, ConfigError, Fix, Given, Words
from tui_lora.core.registry import optimizers, samplers, schedulers
from tui_lora.core.schema import BOOL, CHOICE, FLOAT, INT, OVERRIDE, STR, STR_LIST, Key, Section, coerce, parse_text
from tui_lora.core.settings_sources import DatasetSettings, ModelSettings, ProjectSettings, TagsSettings
from tui_lora.core.settings_training import NetworkSettings, OutputSettings, SampleSettings, TrainingSettings

__all__ = [
    "BOOL", "CHOICE", "FLOAT", "INT", "STR", "STR_LIST", "KEYS", "KEY_INDEX", "OPTIMIZERS",
    "SAMPLERS", "SCHEDULERS", "SECTIONS", "DatasetSettings", "Key", "ModelSettings", "NetworkSettings", "Override",
    "OVERRIDE", "OutputSettings", "ProjectSettings", "SampleSettings", "Settings", "TagsSettings", "TrainingSettings",
    "coerce", "key", "parse_override", "parse_text",
]

OPTIMIZERS = optimizers.NAMES
SCHEDULERS = schedulers.NAMES
SAMPLERS = samplers.NAMES


@dataclass(frozen=True)
class Settings(Mapping[str, Section]):
    """Every setting of a project, one typed section each. Frozen: change with :meth:`with_values`
    (or :func:`dataclasses.replace`). Reads by section name too (``settings["training"]``)."""

    project: ProjectSettings = field(default_factory=ProjectSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    tags: TagsSettings = field(default_factory=TagsSettings)

    def __getitem__(self, section: str) -> Section:
        if section not in SECTIONS:
            raise KeyError(section)
        return getattr(self, section)

    def __iter__(self) -> Iterator[str]:
        return iter(SECTIONS)

    def __len__(self) -> int:
        return len(SECTIONS)

    # ----- reading and writing -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "project.toml") -> "Settings":
        """Check a parsed project.toml (or a run's saved settings); missing keys take their defaults."""
        values: dict[str, Any] = {}
        for section, table in data.items():
            if section not in SECTIONS:
                raise ConfigError(*_unknown_key_message(section + "."), where=where)
            if not isinstance(table, Mapping):
                raise ConfigError(f"[{section}] must be a table of settings, not a single value",
                                  Fix(f"write it as a [{section}] header with keys below it"), where=where)
            for name, value in table.items():
                k = KEY_INDEX.get(f"{section}.{name}")
                if k is None:
                    raise ConfigError(*_unknown_key_message(f"{section}.{name}"), where=where)
                values[k.dotted] = coerce(k, value, where=where)
        out = cls().with_values(values)
        out.check(where=where)
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain ``{section: {key: value}}``, as project.toml and state.json hold them."""
        return {name: self[name].to_dict() for name in SECTIONS}

    def value(self, k: Key) -> Any:
        return getattr(getattr(self, k.section), k.name)

    def with_values(self, values: Mapping[str, Any]) -> "Settings":
        """A copy with ``{"section.key": value}`` replaced; the values must already be checked
        (:func:`coerce`), the two-key rules are for :meth:`check`."""
        by_section: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            k = key(dotted)
            by_section.setdefault(k.section, {})[k.name] = value
        return dataclasses.replace(self, **{s: dataclasses.replace(self[s], **kv) for s, kv in by_section.items()})

    def with_overrides(self, overrides: list[str]) -> "Settings":
        """A copy with ``section.key=value`` overrides, validated the same way as the file."""
        out = self.with_values({ov.key.dotted: ov.value for ov in map(parse_override, overrides)})
        out.check(where=OVERRIDE)
        return out

    def check(self, *, where: str | Given = "project.toml") -> None:
        """Rules that involve two keys at once."""
        d, t, n = self.dataset, self.training, self.network
        if n.lokr_factor == 0:
            raise ConfigError("network.lokr_factor = 0 is not a factor",
                              Fix("use -1 (auto) or a size such as 4, 8 or 16"), where=where)
        if d.min_bucket_reso > d.max_bucket_reso:
            raise ConfigError(
                f"dataset.min_bucket_reso = {d.min_bucket_reso} is larger than dataset.max_bucket_reso = "
                f"{d.max_bucket_reso}", Fix("make the minimum smaller than the maximum"), where=where)
        if t.max_train_epochs == 0 and t.max_train_steps == 0:
            raise ConfigError("training.max_train_epochs and training.max_train_steps are both 0",
                              Fix("set one of them (e.g. max_train_epochs = 10)"), where=where)


SECTION_CLASSES: tuple[type[Section], ...] = tuple(f.type for f in dataclasses.fields(Settings))  # type: ignore[misc]
SECTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))
KEYS: tuple[Key, ...] = tuple(k for cls in SECTION_CLASSES for k in cls.schema())
KEY_INDEX: dict[str, Key] = {k.dotted: k for k in KEYS}
KEY_INDEX_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def key(dotted: str) -> Key:
    """Look up a key by ``section.name``; unknown names raise a ConfigError with a suggestion."""
    try:
        return KEY_INDEX[dotted]
    except KeyError:
        raise ConfigError(*_unknown_key_message(dotted)) from None


def _unknown_key_message(dotted: str) -> tuple[str, Fix]:
    """(problem, fix) for an unknown section or key, with the nearest known name."""
    section, _, name = dotted.partition(".")
    if section not in SECTIONS:
        guess = difflib.get_close_matches(section, SECTIONS, n=1)
        hint = f"did you mean [{guess[0]}]?" if guess else "sections are " + ", ".join(SECTIONS)
        return f"Unknown section [{section}]", Fix(hint)
    names = [k.name for k in KEYS if k.section == section]
    guess = difflib.get_close_matches(name, names, n=1)
    if guess:
        hint = f"did you mean {section}.{guess[0]}?"
    else:
        guess = difflib.get_close_matches(name, [k.name for k in KEYS], n=1)
        hint = (f"did you mean {KEY_INDEX_BY_NAME[guess[0]].dotted}?" if guess
                else f"[{section}] has {', '.join(names)}")
    return f"Unknown key {section}.{name}", Fix(hint)


@dataclass
class Override:
    key: Key
    value: Any
    text: str = field(default="")


def parse_override(text: str) -> Override:
    """Parse ``section.key=value`` into a checked Override."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or "." not in name:
        raise ConfigError(Words("{} is not of the form section.key=value", Given("override", repr(text))),
                          Fix("{}", ChangeInput("override", "training.unet_lr=1e-4", verb="write e.g.")))
    k = key(name)
    return Override(k, parse_text(k, raw, where=OVERRIDE), text)
