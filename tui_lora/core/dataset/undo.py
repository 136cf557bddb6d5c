"""Undo for caption edits: exact snapshots before every bulk write, and an operation log.

Where: ``<project>/logs/caption-history/<id>-<op>/`` (snapshots) and
``<project>/logs/caption-ops.jsonl`` (one JSON object per operation and per undo).
Not ``.cache/``: DESIGN makes ``.cache/`` the home of data that can be rebuilt (thumbnails,
latents, hashes), which users and tools delete to reclaim space. A snapshot is the only copy
of a user's previous captions, so it lives beside the other records in ``logs/``.

A snapshot stores each touched file's exact bytes and permission bits (or that it did not
exist) and is made visible with one rename *before* the first caption is written. After the
writes, the manifest records each file's new hash. Undo restores the newest snapshot byte for
byte (deleting files the operation created) and removes it, so repeated undos walk back
through older operations. A crash midway leaves the snapshot in place and undo still works.
A file changed by hand since the operation is a conflict: undo refuses unless forced, so it
never silently throws away later work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset.captions import read_only_reason, write_bytes_preserving_mode
from tui_lora.core.errors import Fix, NothingToUndo, RunAction, TryAgain, UndoConflict, UserError
from tui_lora.core.fsutil import atomic_write_text, open_append
from tui_lora.core.safepath import Outside, inside, is_link, permission_bits, plain_name, regular_file, shown

HISTORY_DIR = Path("logs") / "caption-history"
LOG_FILE = Path("logs") / "caption-ops.jsonl"
KEEP_LEVELS = 200  # older snapshots are pruned; single-caption edits from the wizard are levels too, and captions are small


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class HistoryEntry:
    id: int
    op: str
    time: float
    summary: dict[str, Any]
    files: int
    undoable: bool
    undone: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # what was asked: tags, word, mode…

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "time": self.time, "details": self.details, "summary": self.summary,
                "files": self.files, "undoable": self.undoable, "undone": self.undone}


@dataclass
class UndoResult:
    id: int
    op: str
    restored: list[str] = field(default_factory=list)  # project-relative paths written back
    removed: list[str] = field(default_factory=list)  # files the operation had created
    forced: list[str] = field(default_factory=list)  # files changed since, overwritten by force

    @property
    def settings_restored(self) -> bool:
        return "project.toml" in self.restored

    def to_dict(self) -> dict[str, Any]:
        return {"undid": self.id, "op": self.op, "restored": self.restored, "removed": self.removed,
                "forced": self.forced, "settings_restored": self.settings_restored}


def history_dir(root: Path) -> Path:
    return root / HISTORY_DIR


def _real_history_dir(root: Path) -> Path:
    """logs/caption-history, refusing a link (snapshots would be read from and written elsewhere)."""
    hist = history_dir(root)
    for p in (root / "logs", hist):
        if is_link(p):
            raise UserError(f"{p} is a symbolic link, so undo snapshots would leave the project",
                            Fix("replace it with a real folder"))
    return hist


def log_path(root: Path) -> Path:
    return root / LOG_FILE


@contextlib.contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """One caption operation at a time per project (the wizard and a CLI may both be open)."""
    d = history_dir(root)
    d.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; operations are still atomic per file
        yield
        return
    fh = open(d / ".lock", "a+b")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError("Another caption operation is running on this project",
                            Fix("wait for it to finish and {}", TryAgain())) from None
        yield
    finally:
        fh.close()


class Snapshot:
    """The before-state of one operation. Create with :meth:`begin` before writing anything."""

    def __init__(self, root: Path, folder: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.folder = folder
        self.manifest = manifest

    @property
    def id(self) -> int:
        return int(self.manifest["id"])

    @classmethod
    def begin(cls, root: Path, op: str, paths: list[Path], details: dict[str, Any] | None = None,
              planned: dict[Path, bytes] | None = None) -> "Snapshot":
        """Copy the current bytes of ``paths`` (files inside ``root``) into a new snapshot.

        ``planned`` (the bytes the operation is about to write, when known) lets an undo after a
        crash midway tell the operation's own writes from later hand edits.
        """
        hist = _real_history_dir(root)
        hist.mkdir(parents=True, exist_ok=True)
        new_id = _next_id(root)
        files = []
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=hist))
        try:
            for i, path in enumerate(paths):
                rel = _relative(root, path)
                entry: dict[str, Any] = {"path": rel, "blob": None, "before": None, "after": None, "mode": None}
                if planned is not None and path in planned:
                    entry["planned"] = _sha(planned[path])
                try:
                    data = path.read_bytes()
                    mode = stat.S_IMODE(path.stat().st_mode)
                except FileNotFoundError:
                    pass
                else:
                    blob = f"{i}.bin"
                    _write_synced(tmp / blob, data)
                    entry.update(blob=blob, before=_sha(data), mode=mode)
                files.append(entry)
            manifest = {"id": new_id, "op": op, "time": time.time(), "details": details or {},
                        "files": files, "complete": False}
            _write_synced(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False).encode("utf-8"))
            folder = hist / f"{new_id:06d}-{_slug(op)}"
            os.rename(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(root, folder, manifest)

    def commit(self, summary: dict[str, Any] | None = None) -> None:
        """Record every file's new hash and log the operation; prune old snapshots."""
        for entry in self.manifest["files"]:
            path = self.root / entry["path"]
            try:
                entry["after"] = _sha(path.read_bytes())
            except FileNotFoundError:
                entry["after"] = None
        self.manifest["complete"] = True
        self.manifest["summary"] = summary or {}
        atomic_write_text(self.folder / "manifest.json", json.dumps(self.manifest, ensure_ascii=False))
        _append_log(self.root, {"id": self.id, "op": self.manifest["op"], "time": self.manifest["time"],
                                "details": self.manifest["details"], "summary": summary or {},
                                "files": len(self.manifest["files"])})
        _prune(self.root)

    def discard(self) -> None:
        """Drop a snapshot whose operation wrote nothing (e.g. cancelled before the first write)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _slug(op: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in op)[:40] or "op"


def _relative(root: Path, path: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        raise UserError(f"{path} is outside the project {root}",
                        Fix("caption operations only touch files inside the project")) from None


def _snapshot_folders(root: Path) -> list[Path]:
    hist = _real_history_dir(root)
    if not hist.is_dir():
        return []
    out = [p for p in hist.iterdir() if p.name[:6].isdigit() and not is_link(p) and p.is_dir()
           and regular_file(p / "manifest.json")]
    return sorted(out, key=lambda p: int(p.name[:6]))


def _read_log(root: Path) -> list[dict[str, Any]]:
    path = log_path(root)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _next_id(root: Path) -> int:
    ids = [int(p.name[:6]) for p in _snapshot_folders(root)]
    ids += [int(e["id"]) for e in _read_log(root) if isinstance(e.get("id"), int)]
    return max(ids, default=0) + 1


def _append_log(root: Path, entry: dict[str, Any]) -> None:
    path = log_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_append(path, encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _prune(root: Path) -> None:
    folders = _snapshot_folders(root)
    for old in folders[:-KEEP_LEVELS]:
        shutil.rmtree(old, ignore_errors=True)


def _load_manifest(folder: Path) -> dict[str, Any]:
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"The undo snapshot {folder} is damaged ({exc})",
                        Fix("remove that folder to undo older operations")) from None
    problem = _manifest_problem(folder, m)
    if problem is None:
        for e in m["files"]:
            for k in ("blob", "before", "after", "mode"):
                e.setdefault(k, None)
    else:
        raise UserError(f"The undo snapshot {shown(folder.name)} was not used because {problem} (tui-lora never "
                        "writes such a snapshot)",
                        Fix(f"remove {HISTORY_DIR.as_posix()}/{shown(folder.name)} to undo older operations"))
    return m


def _manifest_problem(folder: Path, m: Any) -> str | None:
    """Why a snapshot manifest cannot be trusted, or None. A project folder may come from someone
    else: every path must stay inside the project without passing a link, every blob must be a
    plain file of the snapshot, every mode plain permission bits."""
    if not isinstance(m, dict) or not isinstance(m.get("id"), int) or not isinstance(m.get("files"), list):
        return "its manifest is not an undo manifest"
    root = folder.parent.parent.parent
    try:
        for e in m["files"]:
            if not isinstance(e, dict):
                raise Outside("its manifest lists something that is not a file")
            target = inside(root, e.get("path"))
            if os.path.lexists(target) and not regular_file(target):
                raise Outside(f"its path {e['path']!r} is not a regular file")
            if e.get("blob") is not None:
                plain_name(e["blob"], what="blob name")
                if not regular_file(folder / e["blob"]):
                    raise Outside(f"its blob {e['blob']!r} is not a regular file of the snapshot")
            for k in ("before", "after", "planned"):
                if e.get(k) is not None and not isinstance(e[k], str):
                    raise Outside(f"its {k} hash is not text")
            if e.get("mode") is not None and permission_bits(e["mode"]) is None:
                raise Outside(f"its mode {e['mode']!r} is not a number")
            if (e.get("blob") is None) != (e.get("before") is None):
                raise Outside("it lists a file without its saved bytes")
    except Outside as exc:
        return str(exc)
    for k, kind in (("op", str), ("time", (int, float))):
        if k in m and not isinstance(m[k], kind):
            return f"its {k} is of the wrong type"
    return None


def history(root: Path) -> list[HistoryEntry]:
    """Every logged caption operation, newest first, with whether it can still be undone."""
    live = {int(p.name[:6]) for p in _snapshot_folders(root)}
    undone = {int(e["undid"]) for e in _read_log(root) if isinstance(e.get("undid"), int)}
    out = []
    for e in _read_log(root):
        if "undid" in e or not isinstance(e.get("id"), int):
            continue
        out.append(HistoryEntry(e["id"], str(e.get("op", "")), float(e.get("time", 0)), e.get("summary") or {},
                                int(e.get("files", 0)), e["id"] in live and e["id"] not in undone,
                                e["id"] in undone, e.get("details") or {}))
    # A snapshot whose operation crashed before logging is still undoable.
    logged = {h.id for h in out}
    for folder in _snapshot_folders(root):
        i = int(folder.name[:6])
        if i not in logged:
            m = _load_manifest(folder)
            out.append(HistoryEntry(i, m.get("op", ""), float(m.get("time", 0)), {"interrupted": True},
                                    len(m.get("files", [])), True, details=m.get("details") or {}))
    return sorted(out, key=lambda h: h.id, reverse=True)


def undo(root: Path, *, force: bool = False) -> UndoResult:
    """Restore the newest snapshot byte for byte, then drop it (the next undo goes one further back)."""
    with project_lock(root):
        folders = _snapshot_folders(root)
        if not folders:
            raise NothingToUndo("There is nothing to undo: no caption operation of this project has a snapshot left")
        folder = folders[-1]
        m = _load_manifest(folder)
        result = UndoResult(int(m["id"]), str(m.get("op", "")))
        conflicts, pending = [], []
        for e in m["files"]:
            path = root / e["path"]
            try:
                current = _sha(path.read_bytes())
            except FileNotFoundError:
                current = None
            if current == e["before"]:
                continue
            pending.append(e)
            # A finished operation left each file as "after"; an interrupted one (killed midway) left it
            # as before or as planned. Anything else is a later hand edit that undo must not lose.
            ours = (e["after"],) if m.get("complete") else (e.get("planned", e["before"]),)
            if current not in ours:
                conflicts.append(e["path"])
        if conflicts and not force:
            interrupted = "" if m.get("complete") else " (which was interrupted)"
            raise UndoConflict(
                f"{len(conflicts)} file(s) changed after the {m.get('op')} operation{interrupted} (first: "
                f"{shown(conflicts[0])})",
                Fix("undo with {} to restore them anyway, losing those later edits",
                    RunAction("tags.undo_force", str(root))),
                files=tuple(conflicts), op=str(m.get("op", "")))
        blocked = [(e["path"], r) for e in pending if (r := read_only_reason(root / e["path"]))]
        if blocked:
            path, reason = blocked[0]
            raise UserError(f"Cannot undo because {path} cannot be written ({reason})",
                            Fix("make it writable and undo again"))
        _restore(root, folder, m, result)
        result.forced = conflicts
        _append_log(root, {"undid": result.id, "op": "undo", "time": time.time(), "undone_op": result.op,
                           "restored": len(result.restored), "removed": len(result.removed)})
        shutil.rmtree(folder, ignore_errors=True)
        return result


def _restore(root: Path, folder: Path, m: dict[str, Any], result: UndoResult) -> None:
    """Put every file of manifest ``m`` back as it was (idempotent, so a crash here is safe)."""
    for e in m["files"]:
        path = root / e["path"]
        if e["blob"] is None:
            if path.exists():
                path.unlink()
                result.removed.append(e["path"])
            continue
        data = (folder / e["blob"]).read_bytes()
        if _sha(data) != e["before"]:
            raise UserError(f"The undo snapshot {folder} is damaged ({e['blob']} does not match its hash); "
                            "nothing more was restored")
        try:
            same = path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) == permission_bits(e["mode"])
        except FileNotFoundError:
            same = False
        if not same:
            # Only the permission bits: never setuid, setgid or sticky, whatever the manifest says.
            write_bytes_preserving_mode(path, data, permission_bits(e["mode"]))
            result.restored.append(e["path"])


def rollback(snapshot: Snapshot) -> None:
    """Undo a half-finished write set at once (a write failed): restore, then drop the snapshot."""
    _restore(snapshot.root, snapshot.folder, snapshot.manifest, UndoResult(snapshot.id, snapshot.manifest["op"]))
    snapshot.discard()
