"""The LoRA files a comparison can use, and the checks on what the user asked for (no torch here:
bad input fails in a moment, before any model loads)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.errors import ChangeInput, Fix, Given, RunAction, UserError, Words
from tui_lora.core.models import read_safetensors_header

if TYPE_CHECKING:
    from tui_lora.core.project import Project

MAX_WEIGHT = 2.0  # webui accepts more, but past 2 a LoRA only burns the image


@dataclass(frozen=True)
class EpochFile:
    epoch: int
    path: Path
    final: bool = False
    variant: str | None = None  # the sweep variant's label (lr5e-4_dim16); None for the project's own files
    describe: str = ""  # the variant's varied values in words ("lr 5e-4, dim 16")

    @property
    def epoch_label(self) -> str:
        return f"epoch {self.epoch} (final)" if self.final else f"epoch {self.epoch}"

    @property
    def label(self) -> str:
        if self.variant is None:
            return self.epoch_label
        return f"{self.describe or self.variant} · " + ("final" if self.final else f"epoch {self.epoch}")

    def to_dict(self) -> dict:
        out = {"epoch": self.epoch, "file": str(self.path), "final": self.final, "label": self.label}
        if self.variant is not None:
            out |= {"variant": self.variant, "describe": self.describe}
        return out


def list_epoch_files(project: Project) -> list[EpochFile]:
    """``output/<name>-NNNNNN.safetensors`` and the final ``output/<name>.safetensors``, by epoch.

    The final file's epoch is its ``ss_epoch``; when an epoch file has the same number, the final
    file (the same weights) stands for it."""
    name = project.output_name
    pattern = re.compile(re.escape(name) + r"-(\d{6})\.safetensors")
    found: dict[int, EpochFile] = {}
    if project.output_dir.is_dir():
        for p in project.output_dir.iterdir():
            m = pattern.fullmatch(p.name)
            if m and p.is_file():
                found[int(m.group(1))] = EpochFile(int(m.group(1)), p)
    final = project.final_file()
    if final.is_file():
        found[_final_epoch(final, found)] = EpochFile(_final_epoch(final, found), final, final=True)
    return [found[k] for k in sorted(found)]


def _final_epoch(path: Path, found: dict[int, EpochFile]) -> int:
    try:
        _keys, meta = read_safetensors_header(path)
        return int(meta.get("ss_epoch", ""))
    except (UserError, ValueError):
        return max(found, default=0) + 1


def parse_epochs(text: str) -> list[int | str]:
    """``2,4,final`` → [2, 4, "final"]; a bad list is a one-sentence UserError."""
    out: list[int | str] = []
    for part in (t.strip().lower() for t in text.split(",")):
        if not part:
            continue
        if part in ("final", "last"):
            out.append("final")
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise UserError(Words("{} is not a list of epoch numbers", Given("compare.epochs", text)),
                            Fix("{} (\"final\" means the final file)", ChangeInput("compare.epochs", "2,4,6",
                                                                                  verb="write e.g.")))
    if not out:
        raise UserError(Words("{} is empty", Given("compare.epochs")),
                        Fix("{}, or leave it out for all", ChangeInput("compare.epochs", "2,4,6",
                                                                        verb="give epoch numbers such as")))
    return list(dict.fromkeys(out))


def parse_weight(text: str | float, *, given: str = "compare.weight") -> float:
    """One LoRA weight; ``given`` is the input it came from (for the sentence when it is wrong)."""
    try:
        w = float(text)
    except (TypeError, ValueError):
        raise UserError(Words("{} is not a number", Given(given, str(text))),
                        Fix("write a LoRA weight such as 0.8")) from None
    if not math.isfinite(w) or abs(w) > MAX_WEIGHT:
        raise UserError(Words("{} is out of range", Given(given, str(text))),
                        Fix(f"LoRA weights go from -{MAX_WEIGHT:g} to {MAX_WEIGHT:g} (1.0 is full strength)"))
    return w


def parse_weights(text: str) -> list[float]:
    """``0.6,0.8,1.0`` → [0.6, 0.8, 1.0] (duplicates dropped)."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise UserError(Words("{} is empty", Given("compare.weights")),
                        Fix("{}", ChangeInput("compare.weights", "0.6,0.8,1.0", verb="give LoRA weights such as")))
    out = []
    for p in parts:
        try:
            float(p)
        except ValueError:
            raise UserError(Words("{} is not a list of numbers", Given("compare.weights", text)),
                            Fix("{}", ChangeInput("compare.weights", "0.6,0.8,1.0", verb="write e.g."))) from None
        out.append(parse_weight(p, given="compare.weights"))
    return list(dict.fromkeys(out))


MAX_SEEDS = 16


def parse_seeds(text: str) -> list[int]:
    """``1,2,3`` → [1, 2, 3] (duplicates dropped); a bad list is a one-sentence UserError."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise UserError(Words("{} is not a list of whole numbers", Given("compare.seeds", text)),
                        Fix("{}", ChangeInput("compare.seeds", "1,2,3", verb="write e.g.")))
    seeds = list(dict.fromkeys(int(p) % 2**32 for p in parts))
    if len(seeds) > MAX_SEEDS:
        raise UserError(Words("{} lists " + str(len(seeds)) + " seeds", Given("compare.seeds")),
                        Fix(f"use at most {MAX_SEEDS} (2-4 show a LoRA's range)"))
    return seeds


def no_files_error(project: Project) -> UserError:
    return UserError(f"There are no LoRA files in {project.output_dir} yet",
                     Fix("train first with {} (output.save_every_n_epochs keeps one per epoch)",
                         RunAction("train.start", str(project.root))))


def select_epochs(project: Project, wanted: list[int | str] | None) -> list[EpochFile]:
    """The files for ``wanted`` epochs (all of them for None), in the order given."""
    files = list_epoch_files(project)
    if not files:
        raise no_files_error(project)
    if wanted is None:
        return files
    by_epoch = {f.epoch: f for f in files}
    final = next((f for f in files if f.final), None)
    out = []
    for w in wanted:
        f = final if w == "final" else by_epoch.get(int(w))
        if f is None:
            have = ", ".join(f.label for f in files)
            missing = "final file" if w == "final" else f"file for epoch {w}"
            raise UserError(f"There is no {missing} in {project.output_dir}", Fix(f"the saved ones are: {have}"))
        if f not in out:
            out.append(f)
    return out


def find_epoch(project: Project, epoch: int | str) -> EpochFile:
    return select_epochs(project, [epoch])[0]


def lora_family(path: Path) -> str | None:
    """sd15 / sdxl from a LoRA file's metadata or key names; None when it does not say."""
    keys, meta = read_safetensors_header(path)
    version = meta.get("ss_base_model_version", "")
    if version:
        return "sdxl" if version.startswith("sdxl") else "sd15"
    if any(k.startswith(("lora_te1_", "lora_te2_")) for k in keys):
        return "sdxl"
    if any(k.startswith("lora_te_") for k in keys):
        return "sd15"
    return None
