"""Per-user settings outside any project: recent projects and (mode 0600) credentials.

The folder comes from platformdirs; ``TUI_LORA_CONFIG_DIR`` overrides it (tests, portable use).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from tui_lora.core.fsutil import atomic_open

CONFIG_FILE = "config.toml"
RECENT_LIMIT = 12
FORM_PROJECTS_LIMIT = 50  # wizard forms remembered per project: the newest this many


def user_config_dir() -> Path:
    override = os.environ.get("TUI_LORA_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("tui-lora", appauthor=False))


def user_log_dir() -> Path:
    override = os.environ.get("TUI_LORA_CONFIG_DIR")
    if override:
        return Path(override).expanduser() / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("tui-lora", appauthor=False))


def load_user_config(name: str = CONFIG_FILE) -> dict[str, Any]:
    """The user's config file as a dict; a missing or broken file reads as empty."""
    path = user_config_dir() / name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def save_user_config(data: dict[str, Any], name: str = CONFIG_FILE, *, private: bool = False) -> Path:
    """Write the user's config atomically; ``private`` files (credentials) get mode 0600."""
    path = user_config_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        if private:
            os.fchmod(fh.fileno(), 0o600)
        fh.write(tomlkit.dumps(data))
    return path


def recent_projects() -> list[Path]:
    """Recently used projects that still exist, newest first."""
    items = load_user_config().get("recent", {}).get("projects", [])
    out = []
    for item in items:
        p = Path(str(item))
        if (p / "project.toml").is_file() and p not in out:
            out.append(p)
    return out


def remember_project(root: Path) -> None:
    """Put ``root`` first in the recent-projects list; never fails the caller's work."""
    try:
        data = load_user_config()
        root = root.resolve()
        items = [str(root)] + [p for p in data.get("recent", {}).get("projects", []) if p != str(root)]
        data.setdefault("recent", {})["projects"] = items[:RECENT_LIMIT]
        save_user_config(data)
    except OSError:
        pass


def load_form(name: str, root: Path) -> dict[str, Any] | None:
    """A wizard form as last left for project ``root`` (in the user config file ``name``), or None."""
    saved = load_user_config(name).get("projects", {}).get(str(root))
    return saved if isinstance(saved, dict) else None


def save_form(name: str, root: Path, values: dict[str, Any], *, last: bool = False) -> None:
    """Remember a wizard form for ``root`` (the newest FORM_PROJECTS_LIMIT projects are kept); with
    ``last`` also as ``[last]``, the start of the next new project. Never fails the caller's work."""
    try:
        data = load_user_config(name)
        projects = data.get("projects") if isinstance(data.get("projects"), dict) else {}
        projects.pop(str(root), None)  # re-inserted last, so trimming drops the longest unused
        projects[str(root)] = values
        data["projects"] = dict(list(projects.items())[-FORM_PROJECTS_LIMIT:])
        if last:
            data["last"] = values
        save_user_config(data, name)
    except OSError:
        pass
