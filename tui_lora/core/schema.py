"""The machinery of the settings schema: what a key is, how a section class declares its keys,
and how a value is checked (``coerce``) or read from text (``parse_text``: ``--set``, the wizard).

The keys themselves are declared once, as typed fields of the section classes in
:mod:`tui_lora.core.settings_sources` and :mod:`tui_lora.core.settings_training` (put together in
:mod:`tui_lora.core.settings`): a field's type gives the key's kind, its default the default, and
:func:`setting` adds the help text and the allowed values.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tui_lora.core.errors import ConfigError, Fix, Given
from tui_lora.core.setting_rules import value_problem

OVERRIDE = Given("override")  # where a --set style override was read

# Kinds a value can have. "choice" is a string from ``choices``.
STR, INT, FLOAT, BOOL, CHOICE, STR_LIST = "str", "int", "float", "bool", "choice", "list[str]"
_KINDS = {str: STR, int: INT, float: FLOAT, bool: BOOL}


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # Integers only: allowed values (e.g. max_token_length 75/150/225).
    allowed: tuple[int, ...] = ()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    def describe_allowed(self) -> str:
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices)
        if self.allowed:
            return "one of " + ", ".join(str(a) for a in self.allowed)
        if self.kind == BOOL:
            return "true or false"
        if self.kind == STR_LIST:
            return "a list of strings"
        if self.kind == STR:
            return "a string"
        noun = "a whole number" if self.kind == INT else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{noun} from {_fmt(lo)} to {_fmt(hi)}"
        if lo is not None:
            return f"{noun} of at least {_fmt(lo)}"
        if hi is not None:
            return f"{noun} of at most {_fmt(hi)}"
        return noun


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def setting(default: Any, help: str, *, choices: tuple[str, ...] = (), minimum: float | None = None,
            maximum: float | None = None, allowed: tuple[int, ...] = ()) -> Any:
    """A section field that is a project.toml key: its default, help and allowed values."""
    meta = {"help": help, "choices": tuple(choices), "minimum": minimum, "maximum": maximum,
            "allowed": tuple(allowed)}
    if isinstance(default, list):
        items = tuple(default)
        return field(default_factory=lambda: list(items), metadata=meta)
    return field(default=default, metadata=meta)


class Section(Mapping[str, Any]):
    """Base of the typed ``[section]`` classes (frozen dataclasses). Besides attributes, a section
    reads by key name (``section["unet_lr"]``) for code that walks the schema: diffs, ``--set``,
    :meth:`Project.get`."""

    SECTION: ClassVar[str] = ""

    def __getitem__(self, name: str) -> Any:
        if name not in self.field_names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.field_names())

    def __len__(self) -> int:
        return len(self.field_names())

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def schema(cls) -> tuple[Key, ...]:
        """The section's keys, in declaration order, from the fields' types and metadata."""
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        # Types written as strings (a module with postponed annotations) are evaluated once here.
        hints = typing.get_type_hints(cls) if any(isinstance(f.type, str) for f in fields) else {}
        out = []
        for f in fields:
            meta = f.metadata
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
            kind, choices = _kind(hints.get(f.name, f.type), meta["choices"])
            out.append(Key(cls.SECTION, f.name, kind, default, meta["help"], choices, meta["minimum"],
                           meta["maximum"], meta["allowed"]))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {name: list(v) if isinstance(v := getattr(self, name), list) else v for name in self.field_names()}


def _kind(hint: Any, choices: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if typing.get_origin(hint) is Literal:
        return CHOICE, tuple(typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return STR_LIST, ()
    if choices:
        return CHOICE, choices
    return _KINDS[hint], ()


def coerce(k: Key, value: Any, *, where: str | Given = "project.toml") -> Any:
    """Check ``value`` against ``k`` and return it normalised (ints as float for float keys…)."""

    def bad(reason: str | None = None) -> ConfigError:
        shown = repr(value)
        what = reason or f"it must be {k.describe_allowed()}"
        return ConfigError(f"{k.dotted} = {shown} is not allowed", Fix(what), where=where)

    if k.kind == BOOL:
        if not isinstance(value, bool):
            raise bad()
        return value
    if k.kind in (STR, CHOICE):
        if not isinstance(value, str):
            raise bad()
        if k.kind == CHOICE:
            for c in k.choices:
                if c.lower() == value.lower():
                    return c
            raise bad()
        problem = value_problem(k.dotted, value)  # values that become file names
        if problem:
            raise bad(problem)
        return value
    if k.kind == STR_LIST:
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad()
        return list(value)
    if k.kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad()
        if k.allowed and value not in k.allowed:
            raise bad()
    elif k.kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
        if not math.isfinite(value):
            raise bad()
    if k.minimum is not None and value < k.minimum:
        raise bad()
    if k.maximum is not None and value > k.maximum:
        raise bad()
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_text(k: Key, text: str, *, where: str | Given = OVERRIDE) -> Any:
    """Turn the text of an override (``--set training.unet_lr=1e-4``) into a checked value."""
    raw = text.strip()
    value: Any
    if k.kind == BOOL:
        low = raw.lower()
        if low in _TRUE:
            value = True
        elif low in _FALSE:
            value = False
        else:
            raise ConfigError(f"{k.dotted} = {text!r} is not allowed", Fix("it must be true or false"), where=where)
    elif k.kind == INT:
        try:
            f = float(raw)
        except ValueError:
            raise ConfigError(f"{k.dotted} = {text!r} is not a number", Fix(f"it must be {k.describe_allowed()}"),
                              where=where) from None
        if not f.is_integer():
            raise ConfigError(f"{k.dotted} = {text!r} is not allowed", Fix(f"it must be {k.describe_allowed()}"),
                              where=where)
        value = int(f)
    elif k.kind == FLOAT:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{k.dotted} = {text!r} is not a number", Fix(f"it must be {k.describe_allowed()}"),
                              where=where) from None
    elif k.kind == STR_LIST:
        value = [] if not raw else [p.strip() for p in raw.split("|" if "|" in raw else ",")]
    else:
        value = raw
    return coerce(k, value, where=where)
