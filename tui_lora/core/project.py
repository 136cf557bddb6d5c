"""A project on disk: the folder layout of DESIGN.md and its validated project.toml.

project.toml is kept as a tomlkit document so a user's (and the preset's) comments survive
every save. ``Project.settings`` is the validated, typed view (:class:`~.settings.Settings`) with
defaults filled in.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from tui_lora.core import settings as S
from tui_lora.core.dataset.folders import Concept, concept_folder_name, list_concepts
from tui_lora.core.errors import ConfigError, Fix, ProjectError, RunAction, UserError
from tui_lora.core.fsutil import atomic_write_text
from tui_lora.core.settings import Settings

PROJECT_FILE = "project.toml"
LAYOUT_DIRS = ("dataset", "dataset/.trash", ".cache", "output", "output/samples", "logs", "state")


def validate(data: dict[str, Any], *, where: str = PROJECT_FILE) -> Settings:
    """Check a parsed project.toml; return every setting with defaults filled in."""
    return Settings.from_dict(data, where=where)


class Project:
    """A project folder. Create with :meth:`create`, open with :meth:`load`."""

    def __init__(self, root: Path, doc: tomlkit.TOMLDocument, settings: Settings) -> None:
        self.root = root
        self.doc = doc
        self.settings = settings

    # ----- opening -------------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> "Project":
        root = Path(root).expanduser()
        toml_path = root / PROJECT_FILE
        if not root.exists():
            raise ProjectError(f"The project folder {root} does not exist",
                               Fix("create it with {}", RunAction("project.new", str(root))))
        if not toml_path.is_file():
            raise ProjectError(f"{root} is not a tui-lora project (no {PROJECT_FILE})",
                               Fix("create one with {}, or choose the project folder itself", RunAction("project.new")))
        try:
            text = toml_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"Cannot read {toml_path} ({exc})", Fix("check its permissions and encoding")) from None
        try:
            tomllib.loads(text)  # tomllib's messages carry line and column
            doc = tomlkit.parse(text)
        except (tomllib.TOMLDecodeError, tomlkit.exceptions.ParseError) as exc:
            raise ConfigError(f"{toml_path} is not valid TOML ({exc})", Fix("fix that line")) from None
        settings = validate(doc.unwrap(), where=str(toml_path))
        project = cls(root.resolve(), doc, settings)
        project.ensure_layout()
        return project

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        *,
        preset: str,
        base_model: str,
        trigger: str = "",
        name: str | None = None,
    ) -> "Project":
        """Create a project from a preset; nothing is left behind if any step fails."""
        from tui_lora.core.models import inspect_model
        from tui_lora.core.presets import load_preset

        root = Path(root).expanduser().absolute()
        _check_new_folder(root)
        p = load_preset(preset)
        info = inspect_model(base_model)
        if info.family and info.family != p.family and info.detected:
            raise UserError(f"The base model is {family_label(info.family)} but preset {p.name} is for "
                            f"{family_label(p.family)}", Fix(f"choose a {info.family}-* preset or another model"))
        family = info.family or p.family
        if trigger and ("," in trigger or "/" in trigger or trigger != trigger.strip()):
            raise UserError(f"The trigger word {trigger!r} may not contain commas, slashes or outer spaces",
                            Fix("use a single rare word such as ohwx"))
        name = name or root.name
        doc = p.document()
        _set_doc(doc, "project", "name", name)
        _set_doc(doc, "project", "trigger_word", trigger)
        _set_doc(doc, "project", "family", family)
        _set_doc(doc, "project", "preset", p.name)
        _set_doc(doc, "model", "pretrained_model_name_or_path", info.ref if info.kind == "repo" else str(Path(info.ref).resolve()))
        if info.v_prediction is not None:
            _set_doc(doc, "model", "v_parameterization", info.v_prediction)
        if info.zero_terminal_snr:
            _set_doc(doc, "model", "zero_terminal_snr", True)
            _set_doc(doc, "sample", "guidance_rescale", 0.7)  # the paper's CFG rescale for such models
        settings = validate(doc.unwrap(), where=f"preset {p.name}")

        parent = root.parent
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.new-", dir=parent))
        try:
            for d in LAYOUT_DIRS:
                (staging / d).mkdir(parents=True, exist_ok=True)
            concept = concept_folder_name(p.repeats, trigger or _safe_folder_name(name))
            (staging / "dataset" / concept).mkdir()
            (staging / PROJECT_FILE).write_text(tomlkit.dumps(doc), encoding="utf-8")
            if root.exists():
                root.rmdir()  # checked empty above
            os.rename(staging, root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(root.resolve(), doc, settings)

    # ----- settings ------------------------------------------------------------------------
    def get(self, dotted: str) -> Any:
        return self.settings.value(S.key(dotted))

    def set(self, dotted: str, value: Any) -> None:
        """Validate and store one setting in memory; call :meth:`save` to write project.toml."""
        k = S.key(dotted)
        value = S.coerce(k, value, where=PROJECT_FILE)
        trial = self.settings.with_values({k.dotted: value})
        trial.check()
        self.settings = trial
        _set_doc(self.doc, k.section, k.name, value)

    def set_text(self, dotted: str, text: str) -> None:
        """Like :meth:`set` but from user-typed text (the wizard's inputs)."""
        k = S.key(dotted)
        self.set(dotted, S.parse_text(k, text, where=PROJECT_FILE))

    def save(self) -> None:
        atomic_write_text(self.toml_path, tomlkit.dumps(self.doc))

    def effective_settings(self, overrides: list[str] | None = None) -> Settings:
        return self.settings.with_overrides(overrides or [])

    def with_settings(self, settings: Settings) -> "Project":
        """This project seen with other settings (a run's ``--set`` overrides), so that names derived
        from them (``output_name`` and the LoRA files) follow the overrides; saving writes only ``doc``."""
        view = copy.copy(self)
        view.settings = settings
        return view

    def diff_from_preset(self) -> list[tuple[str, Any, Any]]:
        """(key, preset value, project value) for every setting that differs from the preset."""
        from tui_lora.core.presets import load_preset

        name = self.settings.project.preset
        if not name:
            return []
        try:
            base = validate(load_preset(name).document().unwrap())
        except UserError:
            return []
        skip = {"project.name", "project.trigger_word", "project.preset", "project.family",
                "model.pretrained_model_name_or_path", "model.v_parameterization"}
        out = []
        for k in S.KEYS:
            if k.dotted in skip:
                continue
            a, b = base.value(k), self.settings.value(k)
            if a != b:
                out.append((k.dotted, a, b))
        return out

    # ----- layout --------------------------------------------------------------------------
    def ensure_layout(self) -> None:
        for d in LAYOUT_DIRS:
            try:
                (self.root / d).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectError(f"Cannot create {self.root / d} ({exc.strerror})",
                                   Fix("check the folder's permissions")) from None

    @property
    def name(self) -> str:
        return self.settings.project.name or self.root.name

    @property
    def family(self) -> str:
        return self.settings.project.family

    @property
    def output_name(self) -> str:
        return self.settings.output.output_name or _safe_folder_name(self.name)

    toml_path = property(lambda self: self.root / PROJECT_FILE)
    dataset_dir = property(lambda self: self.root / "dataset")
    trash_dir = property(lambda self: self.root / "dataset" / ".trash")
    cache_dir = property(lambda self: self.root / ".cache")
    output_dir = property(lambda self: self.root / "output")
    samples_dir = property(lambda self: self.root / "output" / "samples")
    logs_dir = property(lambda self: self.root / "logs")
    events_path = property(lambda self: self.root / "logs" / "events.jsonl")
    train_log_path = property(lambda self: self.root / "logs" / "train.log")
    state_dir = property(lambda self: self.root / "state")

    def concepts(self) -> list[Concept]:
        return list_concepts(self.dataset_dir)

    def epoch_file(self, epoch: int) -> Path:
        return self.output_dir / f"{self.output_name}-{epoch:06d}.safetensors"

    def final_file(self) -> Path:
        return self.output_dir / f"{self.output_name}.safetensors"


def family_label(family: str) -> str:
    return {"sd15": "SD1.5", "sdxl": "SDXL"}.get(family, family)


def _set_doc(doc: tomlkit.TOMLDocument, section: str, name: str, value: Any) -> None:
    if section not in doc:
        doc.add(section, tomlkit.table())
    doc[section][name] = value


def _safe_folder_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in name).strip(" .")
    return cleaned or "lora"


def _check_new_folder(root: Path) -> None:
    if root.exists():
        if not root.is_dir():
            raise ProjectError(f"{root} exists and is a file", Fix("choose a new folder name for the project"))
        if (root / PROJECT_FILE).exists():
            raise ProjectError(f"{root} is already a project",
                               Fix("open it with {} or pick a new folder", RunAction("project.open", str(root))))
        if any(root.iterdir()):
            raise ProjectError(f"{root} already exists and is not empty", Fix("choose a new folder for the project"))
    parent = root.parent
    if not parent.is_dir():
        raise ProjectError(f"The parent folder {parent} does not exist",
                           Fix("create it first or choose another location"))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ProjectError(f"Cannot write to {parent}", Fix("choose a folder you own (e.g. under your home folder)"))
