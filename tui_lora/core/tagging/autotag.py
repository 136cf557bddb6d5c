"""Tag a project's dataset with a tagger backend and write the captions, undoably.

Modes: ``overwrite`` replaces every caption; ``append`` keeps the existing tags first and adds
the new ones that are not there yet; ``missing`` tags only images without a caption (no file,
or a blank one). The project's trigger word, when set, stays first in every caption written.

Safety: every caption that may be written is checked for writability *before* the model
loads, and snapshotted before the first write, so ``tui-lora tags --undo`` restores the lot,
including after a cancel or a crash. Captions are written batch by batch as results come in,
each atomically, so a cancelled run keeps what it finished.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset import undo as undo_mod
from tui_lora.core.dataset.captions import dedupe_tags, read_only_reason, tag_key, write_bytes_preserving_mode
from tui_lora.core.dataset.tagops import CaptionEntry, load_captions
from tui_lora.core.errors import Fix, OperationFailed, RunAction, TryAgain, UserError
from tui_lora.core.tagging.pipeline import iter_tags, load_tagger

MODES = ("overwrite", "append", "missing")


@dataclass
class TagRunResult:
    backend: str
    model: str
    device: str
    mode: str
    total: int  # images that were to be tagged
    tagged: list[Path] = field(default_factory=list)  # captions written
    unchanged: int = 0  # tagged, but the caption came out identical
    skipped_captioned: int = 0  # mode "missing": images that already had a caption
    skipped_unreadable_caption: list[tuple[Path, str]] = field(default_factory=list)  # append/missing
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # images that could not be read
    cancelled: bool = False
    history_id: int | None = None
    token_warning: str | None = None

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        def rel(p: Path) -> str:
            with contextlib.suppress(ValueError):
                return p.relative_to(root).as_posix() if root else str(p)
            return str(p)

        return {"backend": self.backend, "model": self.model, "device": self.device, "mode": self.mode,
                "total": self.total, "tagged": len(self.tagged), "unchanged": self.unchanged,
                "skipped_captioned": self.skipped_captioned,
                "skipped_unreadable_captions": [{"path": rel(p), "reason": r}
                                                for p, r in self.skipped_unreadable_caption],
                "unreadable": [{"path": rel(p), "reason": r} for p, r in self.unreadable],
                "cancelled": self.cancelled, "history_id": self.history_id, "token_warning": self.token_warning}


def merge_caption(old: list[str], new: list[str], *, mode: str, trigger: str = "") -> list[str]:
    """The caption to write: ``new`` (overwrite/missing) or ``old`` + the new tags it lacks
    (append), de-duplicated, with ``trigger`` first when given."""
    tags = dedupe_tags(old + new) if mode == "append" else dedupe_tags(new)
    if trigger:
        tk = tag_key(trigger)
        tags = [trigger] + [t for t in tags if tag_key(t) != tk]
    return tags


def tag_dataset(project, *, backend: str | None = None, model: str | None = None,
                threshold: float | None = None, character_threshold: float | None = None,
                mode: str = "overwrite", batch_size: int = 8, device: str = "auto", workers: int | None = None,
                progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                tagger=None, add_trigger: bool = True) -> TagRunResult:
    """Tag the project's images; settings default to the project's ``[tags]`` section.

    ``progress(done, total)`` is called after each image; setting ``cancel`` stops after the
    current batch (what was written stays, and is undoable). Pass a loaded ``tagger`` (from
    :func:`tui_lora.core.tagging.pipeline.load_tagger`) to skip loading the model again.
    """
    if mode not in MODES:
        raise UserError(f"Unknown tagging mode {mode!r}", Fix("use overwrite, append or missing"))
    cfg = project.settings["tags"]
    result = TagRunResult(backend or cfg["tagger"], "", "", mode, 0)
    # Locked from the first read to the last write: no other caption operation can interleave.
    with undo_mod.project_lock(project.root):
        targets = _select_targets(project, mode, result)
        if not targets:
            return result
        if tagger is None:
            tagger = load_tagger(result.backend, model if model is not None else cfg["tagger_model"],
                                 threshold=cfg["threshold"] if threshold is None else threshold,
                                 character_threshold=(cfg["character_threshold"] if character_threshold is None
                                                      else character_threshold),
                                 device=device)
        result.backend, result.model, result.device = tagger.name, tagger.model, tagger.device
        trigger = project.settings["project"]["trigger_word"] if add_trigger else ""
        snap = undo_mod.Snapshot.begin(project.root, f"tag-{tagger.name}", [e.path for e in targets],
                                       {"mode": mode, "model": tagger.model, "backend": tagger.name})
        try:
            _tag_and_write(tagger, targets, result, mode=mode, trigger=trigger, batch_size=batch_size,
                           workers=workers, progress=progress, cancel=cancel)
        finally:
            if result.tagged:
                snap.commit({"tagged": len(result.tagged), "cancelled": result.cancelled})
                result.history_id = snap.id
            else:
                snap.discard()
    if result.tagged:
        from tui_lora.core.dataset.tagops import token_report

        result.token_warning = token_report(project).warning
    return result


def _select_targets(project, mode: str, result: TagRunResult) -> list[CaptionEntry]:
    """The images this mode tags; refuses (before any model loads) if a caption is read-only."""
    entries = load_captions(project)
    if not entries:
        raise UserError(f"There are no images in {project.dataset_dir}",
                        Fix("add images to a dataset/<N>_<name>/ folder (or fetch some with {}) first",
                            RunAction("fetch", str(project.root))))
    targets: list[CaptionEntry] = []
    for e in entries:
        if mode == "missing" and not e.caption.empty:
            if e.caption.error:
                result.skipped_unreadable_caption.append((e.path, e.caption.error))
            else:
                result.skipped_captioned += 1
            continue
        if mode == "append" and e.caption.error:
            result.skipped_unreadable_caption.append((e.path, e.caption.error))
            continue
        targets.append(e)
    result.total = len(targets)
    blocked = [(e.path, r) for e in targets if (r := read_only_reason(e.path))]
    if blocked:
        p, reason = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise UserError(f"Nothing was tagged: the caption {p.relative_to(project.root)}{more} cannot be written "
                        f"because {reason}", Fix("make it writable and {}", TryAgain()))
    return targets


def _tag_and_write(tagger, targets: list[CaptionEntry], result: TagRunResult, *, mode: str, trigger: str,
                   batch_size: int, workers: int | None, progress, cancel) -> None:
    by_image = {e.image: e for e in targets}
    done = 0
    for item in iter_tags(tagger, [e.image for e in targets], batch_size=batch_size, workers=workers, cancel=cancel):
        entry = by_image[item.path]
        if item.tags is None:
            result.unreadable.append((item.path, item.error or "unreadable"))
        else:
            old = [] if entry.caption.error else entry.caption.tags
            data = entry.caption.canonical_bytes(merge_caption(old, item.tags, mode=mode, trigger=trigger))
            if data == entry.caption.raw:
                result.unchanged += 1
            else:
                try:
                    write_bytes_preserving_mode(entry.path, data)
                except OSError as exc:
                    raise OperationFailed(
                        f"Writing {entry.path} failed ({exc.strerror or exc})",
                        Fix(f"the {len(result.tagged)} captions written before it can be undone with {{}}",
                            RunAction("tags.undo"))) from None
                result.tagged.append(entry.path)
        done += 1
        if progress is not None:
            progress(done, len(targets))
    result.cancelled = cancel is not None and cancel.is_set() and done < len(targets)
