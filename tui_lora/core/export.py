"""Put a trained LoRA where a UI loads it: ComfyUI's ``models/loras``, AUTOMATIC1111's or Forge's
``models/Lora``, or any folder; then say how to use it (``<lora:NAME:W>, TRIGGER``).

Which file: ``--best`` (the winner Compare kept), an epoch, or by default the best file when there is
one, else the final file. The copy is atomic (a temporary file renamed over the target, so a UI
never sees half a file) and never replaces a different file of the same name unless asked; the same
file already there is left as it is.

The UIs are found among the places rented GPU boxes and installers put them: the folder an
environment variable names (``COMFYUI_PATH`` …), then ``ComfyUI`` / ``stable-diffusion-webui`` …
under the current folder, the home folder, ``/workspace`` and ``/opt`` (``TUI_LORA_UI_ROOTS``, a
``:``-separated list, replaces those four). When none is found the error lists where it looked.
No torch here: the wizard's Compare step calls this too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.errors import Fix, FreeDisk, RunAction, UserError

if TYPE_CHECKING:
    from tui_lora.core.project import Project

DEFAULT_WEIGHT = 0.8  # what the guides start a LoRA at when no comparison picked one
ROOTS_ENV = "TUI_LORA_UI_ROOTS"
DEFAULT_ROOTS = (".", "~", "/workspace", "/opt")


@dataclass(frozen=True)
class UiKind:
    name: str  # what people call it
    env: tuple[str, ...]  # variables that may name its install folder
    folders: tuple[str, ...]  # what its install folder is usually called
    lora_dir: str  # its LoRA folder, inside the install

    def is_install(self, path: Path) -> bool:
        if self.name == "ComfyUI":
            return (path / "main.py").is_file() and (path / "comfy").is_dir()
        forge = (path / "modules_forge").is_dir()
        return (path / "webui.py").is_file() and forge == (self.name == "Forge")


UIS: dict[str, UiKind] = {
    "comfyui": UiKind("ComfyUI", ("COMFYUI_PATH", "COMFYUI_DIR", "COMFYUI_HOME"), ("ComfyUI", "comfyui"),
                      "models/loras"),
    "a1111": UiKind("AUTOMATIC1111", ("A1111_PATH", "SD_WEBUI_PATH", "WEBUI_PATH"),
                    ("stable-diffusion-webui", "automatic1111", "sd-webui", "webui"), "models/Lora"),
    "forge": UiKind("Forge", ("FORGE_PATH", "SD_FORGE_PATH", "WEBUI_FORGE_PATH"),
                    ("stable-diffusion-webui-forge", "forge", "webui-forge", "sd-webui-forge"), "models/Lora"),
}


class TargetExists(UserError):
    """A different file already has the target's name; each front end offers its way to replace it."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} already exists and is a different file",
                         Fix("give another name or folder, or replace it"))
        self.target = target


@dataclass(frozen=True)
class ExportResult:
    source: Path
    target: Path
    copied: bool  # False when the same file was already there
    weight: float
    weight_picked: bool  # the weight is the one Compare picked (else DEFAULT_WEIGHT)
    trigger: str
    ui: str = ""  # the UI's name when exported into one

    @property
    def snippet(self) -> str:
        """What to paste into an A1111 / Forge prompt (ComfyUI: the LoraLoader's name and strength)."""
        return f"<lora:{self.target.stem}:{self.weight:g}>" + (f", {self.trigger}" if self.trigger else "")

    def to_dict(self) -> dict:
        return {"source": str(self.source), "target": str(self.target), "copied": self.copied,
                "weight": self.weight, "weight_picked": self.weight_picked, "trigger": self.trigger,
                "ui": self.ui, "snippet": self.snippet}


# ----- which file -------------------------------------------------------------------------------
def choose_file(project: Project, *, epoch: int | str | None = None, best: bool = False) -> Path:
    """The file to export: ``best``, ``epoch`` (a number or "final"), else the best one, else the final one."""
    from tui_lora.core.compare import best_file, list_epoch_files
    from tui_lora.core.compare.files import find_epoch

    if best and epoch is not None:
        raise UserError("An epoch and the best file were both asked for", Fix("give one of them"))
    if epoch is not None:
        return find_epoch(project, epoch).path
    winner = best_file(project)
    if best:
        if not winner.is_file():
            raise UserError(f"No winner has been kept yet ({winner.name} is missing)",
                            Fix("pick one in a comparison first, or export an epoch"))
        return winner
    if winner.is_file():
        return winner
    if project.final_file().is_file():
        return project.final_file()
    files = list_epoch_files(project)
    if not files:
        raise UserError(f"{project.name} has no LoRA file in {project.output_dir} yet",
                        Fix("train it first with {}", RunAction("train.start", str(project.root))))
    return files[-1].path


def picked_weight(path: Path) -> float | None:
    """The weight Compare recorded in a best file's metadata, if any."""
    from tui_lora.core.compare import BEST_WEIGHT_KEY
    from tui_lora.core.models import read_safetensors_header

    try:
        _keys, meta = read_safetensors_header(path)
        return float(meta[BEST_WEIGHT_KEY])
    except (UserError, KeyError, ValueError):
        return None


# ----- where to -----------------------------------------------------------------------------------
def search_roots() -> list[Path]:
    raw = os.environ.get(ROOTS_ENV)
    roots = [r for r in raw.split(os.pathsep) if r] if raw is not None else list(DEFAULT_ROOTS)
    return [Path(r).expanduser().absolute() for r in roots]


def find_ui(kind: str) -> tuple[Path | None, list[str]]:
    """(the UI's install folder or None, the places looked at, in words)."""
    ui = UIS[kind]
    looked: list[str] = []
    for var in ui.env:
        value = os.environ.get(var, "").strip()
        if value:
            path = Path(value).expanduser()
            if ui.is_install(path) or (path / ui.lora_dir).is_dir():
                return path, looked
            looked.append(f"${var} ({value})")
    for root in search_roots():
        candidates = [root] + [root / name for name in ui.folders]
        for path in candidates:
            if path.is_dir() and ui.is_install(path):
                return path, looked
        looked.append(f"{root}/{{{','.join(ui.folders)}}}")
    return None, looked


def resolve_target(to: str, source: Path) -> tuple[Path, str]:
    """(the file to write, the UI's name or "") for ``--to``: a UI's short name, a folder or a file."""
    key = to.strip().lower()
    if key in UIS:
        ui = UIS[key]
        install, looked = find_ui(key)
        if install is None:
            env = ui.env[0]
            raise UserError(f"No {ui.name} install was found (looked in {'; '.join(looked)})",
                            Fix(f"set {env} to its folder, or give the folder to copy into instead"))
        return install / ui.lora_dir / source.name, ui.name
    path = Path(to).expanduser()
    if path.suffix.lower() == ".safetensors" and not path.is_dir():
        return path, ""
    if path.exists() and not path.is_dir():
        raise UserError(f"{path} is a file that is not a .safetensors",
                        Fix("give a folder or a .safetensors file name"))
    return path / source.name, ""


# ----- the copy -----------------------------------------------------------------------------------
def export_lora(project: Project, to: str, *, epoch: int | str | None = None, best: bool = False,
                force: bool = False) -> ExportResult:
    """Copy the chosen LoRA file to ``to`` (see :func:`resolve_target`) atomically."""
    source = choose_file(project, epoch=epoch, best=best)
    target, ui = resolve_target(to, source)
    weight = picked_weight(source)
    result = ExportResult(source, target, True, weight if weight is not None else DEFAULT_WEIGHT, weight is not None,
                          project.settings["project"]["trigger_word"] or "", ui)
    if target.resolve() == source.resolve():
        raise UserError(f"{target} is the file itself", Fix("give another folder to copy it into"))
    if target.exists():
        if target.is_file() and _same_file(source, target):
            return ExportResult(**{**result.__dict__, "copied": False})
        if target.is_dir():
            raise UserError(f"{target} is a folder", Fix("give another name"))
        if not force:
            raise TargetExists(target)
    _copy_atomic(source, target)
    return result


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return _digest(a) == _digest(b)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy_atomic(source: Path, target: Path) -> None:
    from tui_lora.core.fsutil import atomic_open

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as src, atomic_open(target, "wb", permissions=0o644) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as exc:
        raise UserError(f"Cannot write {target} ({exc.strerror or exc})",
                        Fix("{} or pick a folder you can write to", FreeDisk(str(target.parent)))) from None
