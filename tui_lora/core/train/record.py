"""``state/state.json``: what the latest run is doing and where its resume checkpoint is.

No torch here: ``tui-lora status`` and the wizard read it. The checkpoint itself
(``state/checkpoint-<step>.pt``, see :mod:`.checkpoint`) is written first; this file is then
replaced atomically to point at it, so it always names a complete checkpoint.

It also keeps the run's effective settings (project.toml plus ``--set`` overrides) and a
fingerprint of the dataset, so ``--resume`` can refuse a change that would make the resumed run
differ from an uninterrupted one, and reuse the run's overrides without the user retyping them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import ChangeSetting, Fix, Notice, RunAction, UserError
from tui_lora.core.fsutil import atomic_write_text
from tui_lora.core.settings import KEY_INDEX, Settings
from tui_lora.core.speed import SPEED_ONLY_KEYS

if TYPE_CHECKING:
    from tui_lora.core.project import Project

RECORD_NAME = "state.json"
# Changing these between a stop and --resume does not change what the LoRA learns.
HARMLESS_SECTIONS = {"sample", "tags"}
HARMLESS_KEYS = {
    "project.name", "project.preset", "project.family", "output.output_name", "output.save_every_n_epochs",
    "output.save_precision", "training.gradient_checkpointing", "dataset.cache_latents_to_disk",
    "dataset.cache_text_encoder_outputs", *SPEED_ONLY_KEYS,
}


@dataclass
class RunRecord:
    status: str = "running"  # running | stopped | finished | failed
    message: Notice | None = None  # why it stopped or failed (stored as Notice.to_dict())
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    step: int = 0  # global step of the checkpoint (0: none yet)
    epoch: int = 0  # epochs completed at the checkpoint
    total_steps: int = 0
    epochs: int = 0
    checkpoint: str | None = None  # file name in state/
    overrides: list[str] = field(default_factory=list)
    settings: dict[str, Any] | None = None  # Settings.to_dict() of the run
    dataset: str | None = None  # fingerprint of images, folders and repeats
    captions: str | None = None  # fingerprint of the caption files
    gpus: int = 1
    file_step: int | None = None  # step of the newest LoRA file written by this run

    @property
    def resumable(self) -> bool:
        return self.checkpoint is not None and self.status != "finished"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, message=None))
        message = Notice(self.message) if isinstance(self.message, str) else self.message
        data["message"] = message.to_dict() if message is not None else None
        return data


def record_path(project: Project) -> Path:
    return Path(project.state_dir) / RECORD_NAME


def read_record(project: Project) -> RunRecord | None:
    try:
        data = json.loads(record_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(RunRecord)}
    message = data.get("message")
    # (a plain sentence: a record written before fixes were data)
    data["message"] = (Notice.from_dict(message) if isinstance(message, dict)
                       else Notice(message) if isinstance(message, str) else None)
    try:
        return RunRecord(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None


def write_record(project: Project, record: RunRecord) -> None:
    record.updated = time.time()
    atomic_write_text(record_path(project), json.dumps(record.to_dict(), indent=1, default=str))


def update_record(project: Project, **changes: Any) -> RunRecord | None:
    """Change some fields of the record on disk (nothing when there is none)."""
    record = read_record(project)
    if record is None:
        return None
    for k, v in changes.items():
        setattr(record, k, v)
    write_record(project, record)
    return record


def plain(settings: Settings | Mapping[str, Any]) -> dict[str, Any]:
    """The settings as JSON would give them back (tuples become lists), for comparisons."""
    data = settings.to_dict() if isinstance(settings, Settings) else settings
    return json.loads(json.dumps(data, default=str))


def settings_changes(old: Settings | Mapping[str, Any],
                     new: Settings | Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every setting that differs and matters for the training maths."""
    old, new = plain(old), plain(new)
    out = []
    for section in sorted(set(old) | set(new)):
        if section in HARMLESS_SECTIONS:
            continue
        a, b = old.get(section) or {}, new.get(section) or {}
        for name in sorted(set(a) | set(b)):
            dotted = f"{section}.{name}"
            if dotted not in HARMLESS_KEYS and _value(a, dotted) != _value(b, dotted):
                out.append((dotted, _value(a, dotted), _value(b, dotted)))
    return out


def _value(table: Mapping[str, Any], dotted: str) -> Any:
    """A key's value; a key the table lacks (a run recorded before the key existed) has its default."""
    name = dotted.partition(".")[2]
    if name in table or dotted not in KEY_INDEX:
        return table.get(name)
    return json.loads(json.dumps(KEY_INDEX[dotted].default, default=str))


def dataset_fingerprint(project: Project, settings: Settings) -> tuple[str, str]:
    """(images, captions): hashes of the epoch's images (path, folder, repeats, size) and of the
    caption files' bytes, from the same scan the trainer makes."""
    from tui_lora.core.train.layout import project_layout

    d = settings.dataset
    layout = project_layout(project, d)
    images, captions = hashlib.sha256(), hashlib.sha256()
    ext = d.caption_extension if d.caption_extension.startswith(".") else "." + d.caption_extension
    root = Path(project.root)
    for entry in layout.entries:
        rel = _rel(entry.path, root)
        images.update(f"{rel}|{entry.folder}|{entry.folder_repeats}|{entry.is_reg}|{entry.size}\n".encode())
        try:
            data = entry.path.with_suffix(ext).read_bytes()
        except OSError:
            data = b"\0missing"
        captions.update(rel.encode() + b"\n" + hashlib.sha256(data).digest())
    return images.hexdigest()[:16], captions.hexdigest()[:16]


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _show(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (str, list)) else str(v)


def check_resume(project: Project, record: RunRecord | None, settings: Settings) -> list[str]:
    """Refuse (one sentence) a resume that cannot continue the recorded run; return warnings for
    changes that are allowed (captions edited). ``settings`` are the effective settings now."""
    root = str(project.root)
    if record is None or record.checkpoint is None or not (Path(project.state_dir) / record.checkpoint).is_file():
        raise UserError(f"There is no saved training state to resume in {Path(project.state_dir)}",
                        Fix("start the training with {} (state is saved at every epoch and on stop)",
                            RunAction("train.start", root)))
    if record.status == "finished":
        raise UserError("The last training of this project already finished",
                        Fix("start a new one with {} ({} first to train longer)", RunAction("train.start", root),
                            ChangeSetting("training.max_train_epochs", verb="raise")))
    changes = settings_changes(record.settings or {}, settings) if record.settings is not None else []
    if changes:
        shown = ", ".join(f"{k} {_show(a)} → {_show(b)}" for k, a, b in changes[:3])
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        raise UserError(f"The settings changed since the training stopped ({shown}{more})",
                        Fix("put them back to resume, or start over with {}", RunAction("train.restart", root)))
    images, captions = dataset_fingerprint(project, settings)
    if record.dataset and images != record.dataset:
        raise UserError("The dataset changed since the training stopped (images added, removed, resized or "
                        "repeats changed)",
                        Fix("put it back to resume, or start over with {}", RunAction("train.restart", root)))
    warnings = []
    if record.captions and captions != record.captions:
        warnings.append("Captions changed since the training stopped; the resumed epochs train on the new ones.")
    return warnings


def merge_overrides(saved: list[str], new: list[str]) -> list[str]:
    """The run's ``--set`` overrides followed by new ones, one per key (the newest wins)."""
    out: dict[str, str] = {}
    for text in [*saved, *new]:
        out.pop(text.split("=", 1)[0].strip(), None)
        out[text.split("=", 1)[0].strip()] = text
    return list(out.values())
