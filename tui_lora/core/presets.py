"""Presets: project.toml templates with community-guide values and a comment per setting.

A preset file is a project.toml plus a ``[preset]`` table (description, repeats) that is not
copied into projects. Presets ship in ``presets/`` (inside the wheel as tui_lora/presets) and
users may add their own in the user config folder's ``presets/``.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from tui_lora.core.errors import ConfigError, Fix


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    family: str
    subject: str
    repeats: int
    path: Path

    def document(self) -> tomlkit.TOMLDocument:
        """The preset as an editable TOML document (comments kept), without its [preset] table."""
        doc = tomlkit.parse(self.path.read_text(encoding="utf-8"))
        doc.pop("preset", None)
        return doc


def preset_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    dirs = [here / "presets", here.parent / "presets"]  # wheel layout, then source checkout
    try:
        from tui_lora.core.userconfig import user_config_dir

        dirs.append(user_config_dir() / "presets")
    except Exception:  # noqa: BLE001 - a broken user config must not hide the shipped presets
        pass
    return [d for d in dirs if d.is_dir()]


def list_presets() -> list[Preset]:
    found: dict[str, Preset] = {}
    for d in preset_dirs():
        for path in sorted(d.glob("*.toml")):
            if path.stem not in found:
                found[path.stem] = _read(path)
    return sorted(found.values(), key=lambda p: (p.family, p.name))


def load_preset(name: str) -> Preset:
    presets = {p.name: p for p in list_presets()}
    if name in presets:
        return presets[name]
    guess = difflib.get_close_matches(name, list(presets), n=1)
    hint = f"did you mean {guess[0]}? " if guess else ""
    raise ConfigError(f"Unknown preset {name!r}", Fix(f"{hint}choose one of: {', '.join(presets)}"))


def _read(path: Path) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The preset file {path} is broken ({exc})", Fix("fix or delete it")) from None
    meta = data.get("preset", {})
    project = data.get("project", {})
    return Preset(
        name=path.stem,
        description=str(meta.get("description", "")),
        family=str(project.get("family", "sd15")),
        subject=str(project.get("subject", "character")),
        repeats=int(meta.get("repeats", 10)),
        path=path,
    )
