"""dataset/.trash/: where removed and replaced files go, so that nothing is deleted outright.

Each removal is one *entry*: a folder ``.trash/<id>/`` holding the files (an image and its
caption, say) under their own names plus ``entry.json``, written atomically before any file
moves, which records where each file came from. Entries never share a folder, so two files
with the same name from different places (or the same file trashed twice) never clash, and
two processes can trash at once without a shared manifest to corrupt.

When ``check --fix`` or ``crop`` replaces a file, the entry also records the replacement's
path and hash: restoring then removes the replacement, but only while it is byte-for-byte what
we wrote (so it can be remade) — anything a person changed since is kept.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset.captions import caption_path
from tui_lora.core.dataset.folders import IMAGE_EXTENSIONS
from tui_lora.core.errors import Fix, Notice, UserError
from tui_lora.core.fsutil import atomic_write_bytes, atomic_write_text, existing_permissions
from tui_lora.core.safepath import Outside, inside, is_link, plain_name, regular_file, shown

if TYPE_CHECKING:  # pragma: no cover
    from tui_lora.core.project import Project

MANIFEST = "entry.json"


@dataclass
class TrashedFile:
    original: str  # where it was, relative to dataset/, forward slashes
    stored: str  # its name inside the entry folder
    sha256: str
    copied: bool = False  # a caption still shared with another image: copied, left in place
    replacement: str | None = None  # the file written in its place (fix, crop), relative to dataset/
    replacement_sha256: str | None = None


@dataclass
class TrashEntry:
    id: str
    time: float
    reason: str
    files: list[TrashedFile]
    folder: Path = field(compare=False)

    @property
    def name(self) -> str:
        return Path(self.files[0].original).name if self.files else self.id

    @property
    def original(self) -> str:
        return self.files[0].original if self.files else ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "reason": self.reason, "name": self.name,
                "original": self.original, "files": [asdict(f) for f in self.files]}


@dataclass
class RestoreResult:
    entry: TrashEntry
    restored: list[Path]  # where the files are now
    renamed: bool = False  # a different file had taken the name: restored under a new one
    missing: list[str] = field(default_factory=list)  # files no longer in the trash folder
    set_aside: list[str] = field(default_factory=list)  # trash ids of edited files that stood in the way
    refused: str | None = None  # why nothing of this entry was restored (its manifest cannot be trusted)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "name": self.entry.name, "restored": [str(p) for p in self.restored],
                "renamed": self.renamed, "missing": self.missing, "set_aside": self.set_aside,
                "refused": self.refused}

    @property
    def refusal(self) -> Notice | None:
        """The refused entry and what to do, or None."""
        if self.refused is None:
            return None
        name = shown(self.entry.folder.name)
        return Notice(f"The trash entry {name} was not restored because {self.refused} (tui-lora never writes such "
                      "an entry)",
                      Fix(f"delete dataset/.trash/{name} unless you trust where the project came from"))


def trash_dir(dataset_dir: Path) -> Path:
    return dataset_dir / ".trash"


def _real_trash_dir(dataset_dir: Path) -> Path:
    """dataset/.trash, refusing one that is a link (files put there would land elsewhere)."""
    root = trash_dir(dataset_dir)
    if is_link(root):
        raise UserError(f"{root} is a symbolic link, so trashed files would leave the project",
                        Fix("replace it with a real folder"))
    return root


def _sha(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _rel(path: Path, dataset_dir: Path) -> str:
    """``path`` relative to dataset/, refusing links: tui-lora never moves or rewrites through one."""
    rel = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(dataset_dir))).as_posix()
    try:
        inside(dataset_dir, rel)
    except Outside:
        raise UserError(f"{path} is (or lies in) a symbolic link to somewhere else, and tui-lora leaves links alone",
                        Fix("remove or replace it yourself")) from None
    return rel


def _new_entry_folder(dataset_dir: Path) -> tuple[str, Path]:
    root = _real_trash_dir(dataset_dir)
    root.mkdir(parents=True, exist_ok=True)
    while True:
        entry_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = root / entry_id
        try:
            folder.mkdir()
            return entry_id, folder
        except FileExistsError:  # pragma: no cover - 24 random bits in the same second
            continue


def _write_manifest(entry: TrashEntry) -> None:
    data = {k: v for k, v in entry.to_dict().items() if k in ("id", "time", "reason", "files")}
    atomic_write_text(entry.folder / MANIFEST, json.dumps(data, ensure_ascii=False, indent=1))


def _move(src: Path, dst: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError:  # another filesystem (a concept folder symlinked elsewhere): copy, then remove
        shutil.move(str(src), str(dst))


def _siblings_share_caption(image: Path) -> bool:
    """Another image with the same stem stays behind and still uses this caption."""
    return any(p != image and p.stem == image.stem and p.suffix.lower() in IMAGE_EXTENSIONS
               for p in image.parent.iterdir() if p.is_file())


# ----- putting things in ----------------------------------------------------------------------
def trash_files(dataset_dir: Path, paths: Sequence[Path], *, reason: str,
                caption_extension: str = ".txt", with_captions: bool = True) -> list[TrashEntry]:
    """Move each file (and an image's caption) into its own trash entry."""
    entries = []
    for path in paths:
        path = Path(path)
        if not path.exists() and not is_link(path):
            continue
        _rel(path, dataset_dir)  # a link is refused before anything moves
        group = [path]
        shared = False
        cap = caption_path(path, caption_extension)
        if (with_captions and path.suffix.lower() != caption_extension.lower() and cap.exists()
                and not is_link(cap)):  # a linked caption stays where it is, like a linked image
            group.append(cap)
            shared = _siblings_share_caption(path)
        entry_id, folder = _new_entry_folder(dataset_dir)
        files = [TrashedFile(_rel(p, dataset_dir), p.name, _sha(p), copied=(p == cap and shared)) for p in group]
        entry = TrashEntry(entry_id, time.time(), reason, files, folder)
        _write_manifest(entry)
        for p, f in zip(group, files):
            if f.copied:
                shutil.copy2(p, folder / f.stored)
            else:
                _move(p, folder / f.stored)
        entries.append(entry)
    return entries


@dataclass
class Replacement:
    """Put ``data`` at ``new_path`` (default: the same path) and keep ``original`` in the trash."""

    original: Path
    data: bytes
    new_path: Path | None = None


def replace_files(dataset_dir: Path, items: Sequence[Replacement], *, reason: str) -> TrashEntry:
    """Replace files with new contents as one trash entry (e.g. a fixed image and its caption)."""
    for it in items:  # links are refused before anything moves
        _rel(it.original, dataset_dir)
        _rel(it.new_path or it.original, dataset_dir)
    entry_id, folder = _new_entry_folder(dataset_dir)
    files = []
    for it in items:
        target = it.new_path or it.original
        files.append(TrashedFile(_rel(it.original, dataset_dir), it.original.name, _sha(it.original),
                                 replacement=_rel(target, dataset_dir),
                                 replacement_sha256=hashlib.sha256(it.data).hexdigest()))
    entry = TrashEntry(entry_id, time.time(), reason, files, folder)
    _write_manifest(entry)
    for it, f in zip(items, files):
        mode = existing_permissions(it.original)  # the replacement keeps the original's permissions
        _move(it.original, folder / f.stored)
        atomic_write_bytes(it.new_path or it.original, it.data, permissions=mode)
    return entry


# ----- looking ---------------------------------------------------------------------------------
def list_entries(dataset_dir: Path) -> list[TrashEntry]:
    """Every entry in the trash, newest first; folders without a readable manifest are skipped.

    Entries are listed as their manifests say; :func:`restore_entries` checks every path before
    it touches anything (see :func:`entry_problem`).
    """
    root = trash_dir(dataset_dir)
    if not root.is_dir() or is_link(root):
        return []
    out = []
    for folder in root.iterdir():
        m = folder / MANIFEST
        if not m.is_file():
            continue
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
            files = [TrashedFile(**f) for f in data["files"]]
            out.append(TrashEntry(str(data["id"]), float(data["time"]), str(data["reason"]), files, folder))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    out.sort(key=lambda e: (e.time, e.id), reverse=True)
    return out


def match_entries(entries: Iterable[TrashEntry], patterns: Sequence[str]) -> tuple[list[TrashEntry], list[str]]:
    """Entries whose id, file name or path (relative to dataset/) matches a pattern (globs allowed).

    Returns (matches newest first, patterns that matched nothing).
    """
    entries = list(entries)
    chosen: dict[str, TrashEntry] = {}
    unmatched = []
    for pat in patterns:
        pat_n = pat.replace("\\", "/").strip("/")
        hit = False
        for e in entries:
            keys = [e.id] + [f.original for f in e.files] + [Path(f.original).name for f in e.files]
            if any(k == pat_n or fnmatch.fnmatchcase(k, pat_n) for k in keys):
                chosen[e.id] = e
                hit = True
        if not hit:
            unmatched.append(pat)
    return [e for e in entries if e.id in chosen], unmatched


# ----- taking things out -------------------------------------------------------------------------
def restore_entries(dataset_dir: Path, entries: Sequence[TrashEntry]) -> list[RestoreResult]:
    """Put entries back where they came from, newest first (so fix-then-crop unwinds in order)."""
    ordered = sorted(entries, key=lambda e: (e.time, e.id), reverse=True)
    return [_restore_one(dataset_dir, e) for e in ordered]


def entry_problem(dataset_dir: Path, entry: TrashEntry) -> str | None:
    """Why ``entry`` must not be restored, or None: every path its manifest names has to stay in its
    own area (originals and replacements in dataset/, stored files in the entry's folder) without
    passing through a symbolic link, because a project folder can come from someone else."""
    if is_link(entry.folder) or is_link(entry.folder / MANIFEST):
        return "its folder or manifest is a symbolic link"
    if not entry.files:
        return "its manifest lists no files"
    try:
        for f in entry.files:
            plain_name(f.stored, what="stored name")
            if f.stored == MANIFEST:
                raise Outside(f"its stored name {f.stored!r} is the manifest itself")
            for rel, what in ((f.original, "original path"), (f.replacement, "replacement path")):
                if rel is None and what == "replacement path":
                    continue
                inside(dataset_dir, rel, what=what)
                if str(rel).split("/", 1)[0] == ".trash":
                    raise Outside(f"its {what} {rel!r} is inside the trash itself")
            for value in (f.sha256, f.replacement_sha256):
                if value is not None and not isinstance(value, str):
                    raise Outside("its manifest holds a hash that is not text")
            stored = entry.folder / f.stored
            if os.path.lexists(stored) and not regular_file(stored):
                raise Outside(f"its stored file {f.stored!r} is not a regular file")
    except Outside as exc:
        return str(exc)
    return None


def _restore_one(dataset_dir: Path, entry: TrashEntry) -> RestoreResult:
    result = RestoreResult(entry, [])
    result.refused = entry_problem(dataset_dir, entry)
    if result.refused:
        return result
    present = [f for f in entry.files if (entry.folder / f.stored).exists()]
    result.missing = [f.original for f in entry.files if f not in present]
    # Our own replacements go first, while they are still exactly what we wrote.
    for f in present:
        if f.replacement:
            rp = dataset_dir / f.replacement
            with contextlib.suppress(OSError):
                if regular_file(rp) and _sha(rp) == f.replacement_sha256:
                    rp.unlink()
    primary = present[0] if present else None
    stem_change: str | None = None
    if primary is not None:
        dest = dataset_dir / primary.original
        if dest.exists() and _sha(dest) != primary.sha256:
            stem_change = _free_stem(dataset_dir, [f.original for f in present])
            result.renamed = True
    for f in present:
        src = entry.folder / f.stored
        dest = dataset_dir / f.original
        if stem_change is not None:
            dest = dest.with_name(stem_change + dest.suffix)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            if _sha(dest) == f.sha256:  # the same bytes are already there (a shared caption)
                src.unlink()
                result.restored.append(dest)
                continue
            # Not ours to remove (edited since): it goes to the trash, the original comes back.
            aside = trash_files(dataset_dir, [dest], reason="replaced by restore", with_captions=False)
            result.set_aside.extend(e.id for e in aside)
        _move(src, dest)
        result.restored.append(dest)
    if not result.missing:
        with contextlib.suppress(OSError):
            (entry.folder / MANIFEST).unlink()
            entry.folder.rmdir()
    return result


def _free_stem(dataset_dir: Path, originals: list[str]) -> str:
    first = dataset_dir / originals[0]
    n = 1
    while True:
        stem = f"{first.stem} (restored)" if n == 1 else f"{first.stem} (restored {n})"
        if not any((dataset_dir / o).with_name(stem + Path(o).suffix).exists() for o in originals):
            return stem
        n += 1


# ----- the project-level API the wizard and commands call -------------------------------------------
def move_to_trash(project: "Project", paths: Sequence[Path], *, reason: str = "removed") -> list[TrashEntry]:
    """Move images (with their captions) or captions into dataset/.trash/; restorable."""
    return trash_files(project.dataset_dir, paths, reason=reason,
                       caption_extension=project.settings["dataset"]["caption_extension"] or ".txt")


def list_trash(project: "Project") -> list[TrashEntry]:
    return list_entries(project.dataset_dir)


def restore(project: "Project", entries: Sequence[TrashEntry | str] | None = None) -> list[RestoreResult]:
    """Restore the given entries (or entry ids); None restores everything in the trash."""
    all_entries = list_entries(project.dataset_dir)
    if entries is None:
        chosen = all_entries
    else:
        ids = {e.id if isinstance(e, TrashEntry) else e for e in entries}
        chosen = [e for e in all_entries if e.id in ids]
    return restore_entries(project.dataset_dir, chosen)
