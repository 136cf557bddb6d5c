"""kohya's dataset layout: ``dataset/<N>_<name>/`` folders, where N is the repeat count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# What training can read. avif needs a Pillow plugin; it is listed so scans report it.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".avif"})

_CONCEPT_RE = re.compile(r"^(\d+)_(.+)$")
# Repeats live in folder names, which a project from someone else may set to anything; training
# materialises images × repeats samples per epoch, so a billion would take all memory.
MAX_REPEATS = 1000


@dataclass(frozen=True)
class Concept:
    """One ``<N>_<name>`` subfolder of dataset/."""

    path: Path
    repeats: int
    name: str

    @property
    def folder(self) -> str:
        return self.path.name

    def images(self) -> list[Path]:
        return list_images(self.path)


def parse_concept_folder(name: str) -> tuple[int, str] | None:
    """``"10_sks woman"`` → ``(10, "sks woman")``; None when the name is not kohya's form."""
    m = _CONCEPT_RE.match(name)
    if not m:
        return None
    return int(m.group(1)), m.group(2)


def check_repeats(folder: str, repeats: int) -> None:
    """Refuse a ``<N>_<name>`` folder whose N is outside 1..MAX_REPEATS, in one sentence."""
    if not 1 <= repeats <= MAX_REPEATS:
        from tui_lora.core.errors import Fix, UserError

        shown = str(repeats) if repeats < 10**12 else f"{str(repeats)[:6]}… ({len(str(repeats))} digits)"
        name = folder.split("_", 1)[-1]
        raise UserError(f"The folder dataset/{folder[:60]} asks for {shown} repeats",
                        Fix(f"rename it so the number is 1 to {MAX_REPEATS} (e.g. 10_{name[:40]})"))


def concept_folder_name(repeats: int, name: str) -> str:
    return f"{repeats}_{name}"


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden and .part files skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))


def list_concepts(dataset_dir: Path) -> list[Concept]:
    """Every ``<N>_<name>`` folder in ``dataset_dir`` (hidden folders such as .trash skipped)."""
    if not dataset_dir.is_dir():
        return []
    out = []
    for p in sorted(dataset_dir.iterdir()):
        if not p.is_dir() or p.name.startswith("."):
            continue
        parsed = parse_concept_folder(p.name)
        if parsed:
            out.append(Concept(p, parsed[0], parsed[1]))
    return out


def stray_folders(dataset_dir: Path) -> list[Path]:
    """Folders in dataset/ that are not ``<N>_<name>``: training ignores them, so say so."""
    if not dataset_dir.is_dir():
        return []
    return sorted(
        p for p in dataset_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and parse_concept_folder(p.name) is None
    )


def concept_folder_for(project, name: str, *, create: bool) -> Path:
    """dataset/<N>_<name> for ``name``: an existing folder (by folder or concept name) or a new one,
    made when ``create``. The fetch command and the wizard's Fetch form both ask this."""
    from tui_lora.core.errors import Fix, UserError

    name = name.strip()
    if not name or any(c in name for c in "/\\\x00") or name.startswith("."):
        raise UserError(f"{name!r} is not a folder name", Fix("use a name inside dataset/, such as 10_reimu"))
    for concept in project.concepts():
        if name in (concept.folder, concept.name):
            return concept.path
    parsed = parse_concept_folder(name)
    if parsed is None:
        raise UserError(f"The folder {name!r} must look like <repeats>_<name> (e.g. 10_{name}) so training "
                        "knows how often to repeat it")
    check_repeats(name, parsed[0])
    path = project.dataset_dir / name
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"Cannot create {path} ({exc.strerror})", Fix("check the folder's permissions")) from None
    return path
