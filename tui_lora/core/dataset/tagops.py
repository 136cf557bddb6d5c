"""Tag pruning over a whole dataset: frequency table, trigger word, remove, merge, junk, patterns,
de-duplication, search, single-caption edits, and undo.

Every operation computes all new captions in memory first, checks that every file it would
write is writable, snapshots their exact bytes (``undo.py``), and only then writes, each file
atomically. ``dry_run=True`` returns the same :class:`OpResult` without writing (the wizard's
preview). Tags are compared by :func:`captions.tag_key` (case, underscores and escaped
parentheses do not matter), and written in the caption's own spelling.

Operations write a caption only when its tags change; ``dedupe`` also rewrites captions whose
bytes are not canonical (a BOM, odd whitespace, UTF-16), since those confuse the trainer.
Unreadable captions (not UTF-8) are skipped and reported, never touched.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset import undo as undo_mod
from tui_lora.core.dataset.captions import (
    clean_tag, dedupe_tags, format_tags, read_only_reason, tag_key, write_bytes_preserving_mode,
)
from tui_lora.core.dataset.tagstats import (  # re-exported: tagops is the one import the wizard needs
    CaptionEntry, FrequencyTable, Found, TagCount, _matcher, _relativizer, caption_extension, find_images,
    frequency_table, load_captions, read_image_caption,
)
from tui_lora.core.errors import ChangeSetting, Fix, FreeDisk, Given, TryAgain, UserError, Words


@dataclass
class Change:
    path: Path
    before: list[str]
    after: list[str]
    created: bool = False

    @property
    def removed(self) -> list[str]:
        keep = {tag_key(t) for t in self.after}
        return [t for t in self.before if tag_key(t) not in keep]

    @property
    def added(self) -> list[str]:
        had = {tag_key(t) for t in self.before}
        return [t for t in self.after if tag_key(t) not in had]


@dataclass
class OpResult:
    op: str
    details: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # unreadable captions left alone
    settings: dict[str, Any] = field(default_factory=dict)  # project.toml keys changed (dotted → value)
    history_id: int | None = None  # the undo snapshot; None when nothing was written
    dry_run: bool = False

    @property
    def files_changed(self) -> int:
        return len(self.changes)

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        rel = _relativizer(root)
        return {
            "op": self.op, "details": self.details, "dry_run": self.dry_run, "history_id": self.history_id,
            "files_changed": self.files_changed, "settings": self.settings,
            "changes": [{"path": rel(c.path), "before": c.before, "after": c.after, "created": c.created,
                         "removed": c.removed, "added": c.added} for c in self.changes],
            "skipped": [{"path": rel(p), "reason": r} for p, r in self.skipped],
        }


# ----- the write path ------------------------------------------------------------------------------
def commit_writes(project, op: str, details: dict[str, Any], writes: dict[Path, bytes]) -> int | None:
    """Snapshot, then atomically write every file in ``writes``; all or nothing. Returns the
    snapshot id (None when ``writes`` is empty)."""
    with undo_mod.project_lock(project.root):
        return _commit_locked(project, op, details, writes)


def _commit_locked(project, op: str, details: dict[str, Any], writes: dict[Path, bytes]) -> int | None:
    if not writes:
        return None
    blocked = [(p, r) for p in writes if (r := read_only_reason(p))]
    if blocked:
        p, reason = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise UserError(f"Nothing was changed: {_rel(project, p)}{more} cannot be written because {reason}",
                        Fix("make it writable and {}", TryAgain()))
    snap = undo_mod.Snapshot.begin(project.root, op, list(writes), details, planned=writes)
    try:
        for path, data in writes.items():
            write_bytes_preserving_mode(path, data)
    except BaseException as exc:
        undo_mod.rollback(snap)
        if isinstance(exc, OSError):
            raise UserError(f"Nothing was changed: writing {_rel(project, path)} failed ({exc.strerror or exc})",
                            Fix("{} or check the permissions", FreeDisk(str(path.parent)))) from None
        raise
    snap.commit({"files": len(writes)})
    return snap.id


def _rel(project, path: Path) -> str:
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def _run(project, op: str, details: dict[str, Any], transform: Callable[[list[str]], list[str]], *,
         create_missing: bool = False, canonicalize: bool = False, dry_run: bool = False,
         extra: dict[Path, bytes] | None = None, entries: list[CaptionEntry] | None = None) -> OpResult:
    """Apply ``transform`` to every readable caption and write what changed (see module doc).
    Reading and writing happen under the project's lock, so no other operation slips between."""
    lock = contextlib.nullcontext() if dry_run else undo_mod.project_lock(project.root)
    with lock:
        result = OpResult(op, details, dry_run=dry_run)
        writes: dict[Path, bytes] = {}
        for e in load_captions(project) if entries is None else entries:
            cf = e.caption
            if cf.error:
                result.skipped.append((cf.path, cf.error))
                continue
            if not cf.tags and not create_missing:
                continue
            after = transform(list(cf.tags))
            data = cf.canonical_bytes(after)
            if after != cf.tags or (canonicalize and cf.raw is not None and data != cf.raw):
                if not cf.exists and not after:
                    continue
                result.changes.append(Change(cf.path, list(cf.tags), after, created=not cf.exists))
                writes[cf.path] = data
        writes.update(extra or {})
        if not dry_run:
            result.history_id = _commit_locked(project, op, details, writes)
    return result


# ----- operations --------------------------------------------------------------------------------------
def set_trigger(project, word: str, *, dry_run: bool = False) -> OpResult:
    """Put ``word`` first in every caption (images without one get a caption of just ``word``),
    drop other copies of it and of the previous trigger word, set project.trigger_word, and make
    dataset.keep_tokens at least 1 so shuffling never moves it. All of it undoable at once."""
    word = clean_tag(word)
    if not word or "," in word or "/" in word or "\\" in word:
        raise UserError(f"The trigger word {word!r} must be one tag without commas or slashes",
                        Fix("use a rare word such as ohwx"))
    old = project.settings["project"]["trigger_word"]
    drop = {tag_key(word)} | ({tag_key(old)} if old else set())

    def transform(tags: list[str]) -> list[str]:
        return [word] + [t for t in tags if tag_key(t) not in drop]

    from tui_lora.core.project import Project

    trial = Project(project.root, copy.deepcopy(project.doc), copy.deepcopy(project.settings))
    settings: dict[str, Any] = {}
    if old != word:
        trial.set("project.trigger_word", word)
        settings["project.trigger_word"] = word
    if trial.settings["dataset"]["keep_tokens"] < 1:
        trial.set("dataset.keep_tokens", 1)
        settings["dataset.keep_tokens"] = 1
    import tomlkit

    extra = {project.toml_path: tomlkit.dumps(trial.doc).encode("utf-8")} if settings else {}
    result = _run(project, "trigger", {"word": word, "previous": old}, transform, create_missing=True,
                  dry_run=dry_run, extra=extra)
    result.settings = settings
    if not dry_run and settings:
        project.doc, project.settings = trial.doc, trial.settings
    return result


def remove_tags(project, tags: list[str], *, dry_run: bool = False) -> OpResult:
    """Remove these tags from every caption (e.g. the subject's fixed traits, so the trigger word
    absorbs them). Globs are allowed here too."""
    match = _matcher(tags)
    return _run(project, "remove", {"tags": list(tags)}, lambda ts: [t for t in ts if not match(t)],
                dry_run=dry_run)


def replace_tags(project, sources: list[str], target: str, *, dry_run: bool = False) -> OpResult:
    """Merge: every caption holding any of ``sources`` gets ``target`` once, where the first of
    them stood (``striped shirt, vertical stripes → striped shirt``). An empty target removes."""
    keys = {tag_key(s) for s in sources if tag_key(s)}
    if not keys:
        raise UserError(Words("{} needs at least one tag before the = sign", Given("tags.replace")),
                        Fix("write it as \"a,b=c\""))
    target = clean_tag(target)
    tk = tag_key(target)

    def transform(tags: list[str]) -> list[str]:
        if not any(tag_key(t) in keys for t in tags):
            return tags
        out, placed = [], False
        for t in tags:
            k = tag_key(t)
            if k in keys or (target and k == tk):
                if target and not placed:
                    out.append(target)
                    placed = True
                continue
            out.append(t)
        return out

    return _run(project, "replace", {"sources": list(sources), "target": target}, transform, dry_run=dry_run)


def parse_replace(text: str) -> tuple[list[str], str]:
    """``"a, b = c"`` → ``(["a", "b"], "c")``; ``"a="`` removes a."""
    left, sep, right = text.rpartition("=")
    if not sep:
        raise UserError(Words("{} has no '='", Given("tags.replace", repr(text))),
                        Fix("write it as \"old1,old2=new\" (e.g. \"vertical stripes,striped shirt=striped shirt\")"))
    sources = [t for t in (clean_tag(p) for p in left.split(",")) if t]
    return sources, clean_tag(right)


def _protect_trigger(project, match: Callable[[str], bool]) -> Callable[[str], bool]:
    trigger = tag_key(project.settings["project"]["trigger_word"])
    return lambda t: match(t) and (not trigger or tag_key(t) != trigger)


def remove_pattern(project, patterns: list[str], *, dry_run: bool = False) -> OpResult:
    """Remove every tag matching a glob (``* (azur lane)``); the trigger word is never matched."""
    if not any(tag_key(p) for p in patterns):
        raise UserError(Words("{} needs a pattern such as \"* (azur lane)\"", Given("tags.pattern")))
    match = _protect_trigger(project, _matcher(patterns))
    return _run(project, "remove-pattern", {"patterns": list(patterns)},
                lambda ts: [t for t in ts if not match(t)], dry_run=dry_run)


def remove_junk(project, junk: list[str] | None = None, *, dry_run: bool = False) -> OpResult:
    """Remove the project's junk list (``tags.junk_tags``: absurdres, highres, commentary…)."""
    junk = project.settings["tags"]["junk_tags"] if junk is None else junk
    if not junk:
        raise UserError("The junk list is empty", Fix("{} in project.toml", ChangeSetting("tags.junk_tags",
                                                                                          verb="add tags to")))
    match = _protect_trigger(project, _matcher(junk))
    return _run(project, "junk", {"junk": list(junk)}, lambda ts: [t for t in ts if not match(t)], dry_run=dry_run)


def dedupe(project, *, dry_run: bool = False) -> OpResult:
    """Drop repeated tags within each caption and rewrite captions with a BOM, odd whitespace or
    UTF-16 as clean UTF-8."""
    return _run(project, "dedupe", {}, dedupe_tags, canonicalize=True, dry_run=dry_run)


def edit_caption(project, image: str | Path, tags: list[str] | str, *, dry_run: bool = False) -> OpResult:
    """Replace one image's caption (the wizard's editor); undoable like the bulk operations."""
    from tui_lora.core.dataset.captions import parse_tags

    image = Path(image)
    new = parse_tags(tags) if isinstance(tags, str) else [t for t in map(clean_tag, tags) if t]
    cf = read_image_caption(project, image)
    if cf.error:
        raise UserError(f"The caption {cf.path} {cf.error}")
    return _run(project, "edit", {"image": _rel(project, image)}, lambda _: new, create_missing=True,
                dry_run=dry_run, entries=[CaptionEntry(image, cf)])


def undo(project, *, force: bool = False) -> undo_mod.UndoResult:
    """Undo the newest caption operation byte for byte; reloads settings it restored."""
    result = undo_mod.undo(project.root, force=force)
    if result.settings_restored:
        from tui_lora.core.project import Project

        fresh = Project.load(project.root)
        project.doc, project.settings = fresh.doc, fresh.settings
    return result


def history(project) -> list[undo_mod.HistoryEntry]:
    return undo_mod.history(project.root)


def token_report(project, entries: list[CaptionEntry] | None = None):
    """Caption lengths in CLIP tokens against training.max_token_length (see tokens.py)."""
    from tui_lora.core.dataset.tokens import token_report as _report

    entries = load_captions(project) if entries is None else entries
    texts = {e.path: e.tags for e in entries if e.tags}
    return _report(texts, project.settings["model"]["pretrained_model_name_or_path"],
                   project.settings["training"]["max_token_length"])


__all__ = [
    "CaptionEntry", "Change", "OpResult", "TagCount", "FrequencyTable", "Found", "load_captions",
    "read_image_caption", "frequency_table", "find_images", "commit_writes", "set_trigger", "remove_tags",
    "replace_tags", "parse_replace", "remove_pattern", "remove_junk", "dedupe", "edit_caption", "undo",
    "history", "token_report", "format_tags", "caption_extension",
]
