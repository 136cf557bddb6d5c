"""Fixtures for the whole suite: isolated user config, tiny models, projects, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path_factory, monkeypatch):
    """Never read or write the developer's real config, credentials or HF cache in tests."""
    cfg = tmp_path_factory.mktemp("userconfig")
    monkeypatch.setenv("TUI_LORA_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TUI_LORA_GELBOORU_USER_ID", raising=False)
    monkeypatch.delenv("TUI_LORA_GELBOORU_API_KEY", raising=False)
    return cfg


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory) -> Path:
    """A tiny random-weights SD1.5 diffusers folder (built once per session)."""
    from tui_lora.demo.tiny_models import build_tiny_sd15

    return build_tiny_sd15(tmp_path_factory.mktemp("models") / "tiny-sd15")


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory) -> Path:
    """A tiny random-weights SDXL diffusers folder (built once per session)."""
    from tui_lora.demo.tiny_models import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture
def make_project(tmp_path):
    """Create a project from a preset with a generated dataset: make_project(images=8, ...)."""
    from tui_lora.core.project import Project
    from tui_lora.demo.datasets import write_dataset

    def make(*, preset: str = "sd15-anime-character", base_model: str | Path | None = None,
             images: int = 8, trigger: str = "ohwx", name: str = "proj", size=(128, 128),
             settings: dict | None = None) -> Project:
        ref = str(base_model) if base_model else "stable-diffusion-v1-5/stable-diffusion-v1-5"
        if base_model is None and preset.startswith("sdxl"):
            ref = "stabilityai/stable-diffusion-xl-base-1.0"
        project = Project.create(tmp_path / name, preset=preset, base_model=ref, trigger=trigger)
        if images:
            write_dataset(project.concepts()[0].path, images, size=size, trigger=trigger)
        for dotted, value in (settings or {}).items():
            project.set(dotted, value)
        project.save()
        return project

    return make


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@pytest.fixture
def run_cli():
    """Run ``python -m tui_lora ARGS`` in a real subprocess, as a user would."""

    def run(*args: str, input: str | None = None, timeout: float = 300, cwd: Path | None = None):
        return subprocess.run(
            [sys.executable, "-m", "tui_lora", *map(str, args)],
            capture_output=True, text=True, input=input, timeout=timeout, env=cli_env(), cwd=cwd,
        )

    return run


@pytest.fixture
def booru_server():
    """A started fake booru with the default catalogue (tui_lora/demo/booru_server.py)."""
    from tui_lora.demo.booru_server import BooruServer

    with BooruServer() as srv:
        yield srv
