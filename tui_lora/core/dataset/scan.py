"""Scan a project's dataset/: one record per file, with the problems found in it.

Images are decoded in a thread pool (Pillow, hashlib and numpy release the GIL for the heavy
parts); results are cached by content in .cache/dataset.sqlite, so a second scan of an
unchanged dataset only lists folders, stats files and reads captions.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset import fingerprint as fp_mod
from tui_lora.core.dataset import probe as probe_mod
from tui_lora.core.dataset.captions import decode_any, read_caption
from tui_lora.core.dataset.checks import Issue, Problem
from tui_lora.core.dataset.folders import IMAGE_EXTENSIONS, parse_concept_folder
from tui_lora.core.dataset.hashcache import HashCache
from tui_lora.core.dataset.records import FileRecord, Limits, ScanReport

if TYPE_CHECKING:  # pragma: no cover
    from tui_lora.core.project import Project

Progress = Callable[[int, int], None]  # (files done, files in all)

# Formats Pillow reads but kohya-style training skips; --fix converts them to PNG.
CONVERTIBLE_EXTENSIONS = frozenset({".gif", ".tif", ".tiff"})
MAX_ASPECT = 3.0
CACHE_VERSION = fp_mod.VERSION * 1000 + probe_mod.VERSION


def thumbs_dir(project: "Project") -> Path:
    return project.cache_dir / "thumbs"


# ----- walking ----------------------------------------------------------------------------
def _walk(dataset_dir: Path, caption_ext: str) -> tuple[list[FileRecord], list[Path], list[Path]]:
    """(image records, caption files, stray folders) without reading any image."""
    images: list[FileRecord] = []
    captions: list[Path] = []
    strays: list[Path] = []
    if not dataset_dir.is_dir():
        return images, captions, strays

    def add_folder(folder: Path, concept: str | None) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if e.name.startswith(".") or not e.is_file():
                continue
            p = Path(e.path)
            suffix = p.suffix.lower()
            rel = p.relative_to(dataset_dir).as_posix()
            if suffix in IMAGE_EXTENSIONS or suffix in CONVERTIBLE_EXTENSIONS:
                rec = FileRecord(p, rel, concept, "image")
                if concept is None and suffix in IMAGE_EXTENSIONS:
                    where = "loose in dataset/" if folder == dataset_dir else f"in {folder.name}/"
                    rec.issues.append(Issue(Problem.OUTSIDE_CONCEPT, where))
                images.append(rec)
            elif suffix == caption_ext.lower() and concept is not None:
                captions.append(p)

    add_folder(dataset_dir, None)
    for entry in sorted(os.scandir(dataset_dir), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        folder = Path(entry.path)
        if parse_concept_folder(entry.name):
            add_folder(folder, entry.name)
        else:
            strays.append(folder)
            add_folder(folder, None)
    return images, captions, strays


# ----- scanning ---------------------------------------------------------------------------
def scan(
    project: "Project",
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    thumbnails: bool = False,
    workers: int | None = None,
) -> ScanReport:
    """Check every file in the project's dataset/ (see :class:`Problem` for what is reported).

    ``thumbnails`` also writes each image's review thumbnail from the same decode.
    ``cancel`` stops early: the report then has ``cancelled=True`` and only the finished files.
    """
    return scan_folder(project.dataset_dir, project.cache_dir, Limits.for_project(project),
                       progress=progress, cancel=cancel, thumbnails=thumbnails, workers=workers)


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(32, n))


def scan_folder(
    dataset_dir: Path,
    cache_dir: Path,
    limits: Limits,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    thumbnails: bool = False,
    workers: int | None = None,
) -> ScanReport:
    start = time.perf_counter()
    images, captions, strays = _walk(dataset_dir, limits.caption_extension)
    project_root = dataset_dir.parent
    thumb_dir = cache_dir / "thumbs" if thumbnails else None
    total = len(images)
    done = 0
    report = ScanReport(dataset_dir, [], limits, strays)

    def tick() -> None:
        if progress:
            progress(done, total)

    with HashCache(cache_dir, content_version=CACHE_VERSION) as cache:
        known = cache.known_files()
        stats: dict[int, tuple[int, int]] = {}
        todo: list[int] = []
        hits: dict[int, str] = {}
        for i, rec in enumerate(images):
            try:
                st = rec.path.stat()
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError as exc:
                rec.issues.append(Issue(Problem.UNREADABLE, exc.strerror or str(exc)))
                done += 1
                continue
            rec.size_bytes = size
            stats[i] = (size, mtime)
            k = known.get(_key(rec.path, project_root))
            if k and k[0] == size and k[1] == mtime:
                hits[i] = k[2]
            else:
                todo.append(i)
        cached = cache.content(hits.values())
        for i, sha in hits.items():
            got = cached.get(sha)
            thumb_missing = thumb_dir is not None and got is not None and got[1] is not None \
                and not probe_mod.thumb_file(thumb_dir, sha).exists()
            if got is None or thumb_missing:
                todo.append(i)
                continue
            _apply(images[i], sha, *got)
            report.cached += 1
            done += 1
        tick()

        todo.sort()
        known_content = cache.content_hashes() if todo else set()
        pending: dict[Future, int] = {}
        n_workers = workers or default_workers()
        ex = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="tui-lora-scan")
        try:
            it = iter(todo)
            last_commit = time.monotonic()
            while True:
                while len(pending) < n_workers * 2 and not (cancel and cancel.is_set()):
                    i = next(it, None)
                    if i is None:
                        break
                    pending[ex.submit(probe_mod.probe_file, images[i].path, thumb_dir=thumb_dir,
                                      known=known_content)] = i
                if not pending:
                    break
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = pending.pop(fut)
                    rec = images[i]
                    try:
                        _take(fut.result(), rec, stats[i], cache, report, project_root, thumb_dir)
                    except OSError as exc:  # vanished or unreadable since it was listed
                        rec.issues.append(Issue(Problem.UNREADABLE, exc.strerror or str(exc)))
                    done += 1
                if finished:
                    tick()
                if time.monotonic() - last_commit > 2:
                    cache.commit()
                    last_commit = time.monotonic()
        except BaseException:  # Ctrl-C in the CLI: finish nothing new, keep what is done
            if cancel is not None:
                cancel.set()
            ex.shutdown(wait=True, cancel_futures=True)
            cache.commit()
            raise
        ex.shutdown(wait=True, cancel_futures=True)
        cancelled = bool(cancel and cancel.is_set() and done < total)
        if not cancelled:
            cache.prune({_key(r.path, project_root) for r in images if r.sha256})

    finished_images = [r for r in images if r.sha256 is not None or r.issues]
    report.cancelled = cancelled
    if cancelled:
        images = finished_images
    _check_images(images, limits)
    report.records = _with_captions(images, captions, limits, dataset_dir)
    report.seconds = time.perf_counter() - start
    return report


def _take(res: probe_mod.ProbeResult, rec: FileRecord, stat: tuple[int, int], cache: HashCache,
          report: ScanReport, project_root: Path, thumb_dir: Path | None) -> None:
    """Apply one worker result to its record and the cache."""
    got = (res.facts, res.fingerprint) if res.facts is not None else cache.content([res.sha256]).get(res.sha256)
    if got is None:  # known content pruned meanwhile by another process: decode after all
        res = probe_mod.probe_file(rec.path, thumb_dir=thumb_dir)
        got = (res.facts, res.fingerprint)
    if res.facts is None:
        report.rehashed += 1
    else:
        report.decoded += 1
        cache.put_content(res.sha256, res.facts, res.fingerprint)
    _apply(rec, res.sha256, *got)
    cache.put_file(_key(rec.path, project_root), stat[0], stat[1], res.sha256)


def _key(path: Path, project_root: Path) -> str:
    try:
        return path.relative_to(project_root).as_posix()
    except ValueError:
        return str(path)


def _apply(rec: FileRecord, sha: str, facts: dict[str, Any], fingerprint: bytes | None) -> None:
    rec.sha256 = sha
    rec.fingerprint = fingerprint
    rec.format = facts.get("format")
    rec.width, rec.height = int(facts.get("width") or 0), int(facts.get("height") or 0)
    rec.mode = facts.get("mode") or ""
    rec.frames = int(facts.get("frames") or 1)
    rec.transparent = bool(facts.get("transparent"))
    rec.orientation = int(facts.get("orientation") or 1)
    status = facts.get("status", "ok")
    if status != "ok":
        rec.issues.append(Issue(Problem(status), facts.get("detail", "")))


_RGB_OK = {"RGB", "L", "RGBA"}  # RGBA without transparent pixels trains exactly like RGB


def _link_issue(path: Path, what: str) -> Issue | None:
    """A LINK issue when ``path`` is a symbolic link (reported; every destructive command skips it)."""
    if not path.is_symlink():
        return None
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return Issue(Problem.LINK, f"{what} points to {target}")


def _check_images(images: list[FileRecord], limits: Limits) -> None:
    for rec in images:
        if (link := _link_issue(rec.path, "it")) is not None:
            rec.issues.append(link)
        if rec.path.suffix.lower() in CONVERTIBLE_EXTENSIONS and rec.readable:
            rec.issues.append(Issue(Problem.UNSUPPORTED, f"{rec.path.suffix.lower()} files are skipped"))
        if not rec.readable:
            continue
        w, h = rec.width, rec.height
        small = limits.too_small(w, h)
        if small:
            rec.issues.append(Issue(Problem.TOO_SMALL, small))
        ratio = max(w, h) / max(1, min(w, h))
        if ratio > MAX_ASPECT:
            rec.issues.append(Issue(Problem.EXTREME_ASPECT, f"{w}×{h} is {ratio:.1f}:1"))
        if rec.transparent:
            rec.issues.append(Issue(Problem.TRANSPARENCY))
        if rec.frames > 1:
            rec.issues.append(Issue(Problem.ANIMATED, f"{rec.frames} frames"))
        converts = rec.has(Problem.UNSUPPORTED) or (rec.transparent and rec.mode in ("LA", "PA", "P"))
        if rec.mode not in _RGB_OK and not converts:  # (conversion to PNG / onto white covers it)
            rec.issues.append(Issue(Problem.COLOR_MODE, f"stored as {rec.mode}"))
        if rec.orientation != 1:
            rec.issues.append(Issue(Problem.ROTATED, f"EXIF orientation {rec.orientation}"))


def _with_captions(images: list[FileRecord], captions: list[Path], limits: Limits,
                   dataset_dir: Path) -> list[FileRecord]:
    """Attach captions to images; add caption problems, same-name clashes and orphan captions."""
    by_stem: dict[tuple[Path, str], list[FileRecord]] = defaultdict(list)
    for rec in images:
        by_stem[(rec.path.parent, rec.path.stem)].append(rec)
    caption_set = {(c.parent, c.stem): c for c in captions}
    for (folder, stem), recs in by_stem.items():
        if len(recs) > 1:
            for rec in recs:
                others = ", ".join(r.path.name for r in recs if r is not rec)
                rec.issues.append(Issue(Problem.SAME_NAME, f"also {others}"))
        if recs[0].concept is None:
            continue
        cap = caption_set.get((folder, stem))
        for rec in recs:
            if cap is None:
                if not rec.has(Problem.OUTSIDE_CONCEPT):
                    rec.issues.append(Issue(Problem.MISSING_CAPTION, f"no {stem}{limits.caption_extension}"))
                continue
            rec.caption = cap
            if (link := _link_issue(cap, f"its caption {cap.name}")) is not None:
                rec.issues.append(link)
        if cap is not None:
            _caption_issues(recs[0], cap)
            for rec in recs[1:]:
                rec.issues.extend(i for i in recs[0].issues
                                  if i.code in (Problem.EMPTY_CAPTION, Problem.CAPTION_ENCODING))
    out: list[FileRecord] = list(images)
    for (folder, stem), cap in caption_set.items():
        if (folder, stem) not in by_stem:
            rec = FileRecord(cap, cap.relative_to(dataset_dir).as_posix(), folder.name, "caption")
            try:
                rec.size_bytes = cap.stat().st_size
            except OSError:
                pass
            rec.issues.append(Issue(Problem.ORPHAN_CAPTION, "no image named " + stem + ".*"))
            if (link := _link_issue(cap, "it")) is not None:
                rec.issues.append(link)
            out.append(rec)
    out.sort(key=lambda r: r.rel)
    return out


def _caption_issues(rec: FileRecord, cap: Path) -> None:
    cf = read_caption(cap)
    if cf.unreadable:
        rec.issues.append(Issue(Problem.UNREADABLE, f"caption {cap.name} {cf.error}"))
        return
    if cf.error or cf.has_bom:
        encoding = cf.encoding if cf.has_bom else decode_any(cf.raw or b"")[1]
        what = {"utf-8-sig": "starts with a byte-order mark", "utf-16": "is UTF-16"}.get(
            encoding, f"looks like {encoding}" if encoding != "utf-8" else cf.error)
        rec.issues.append(Issue(Problem.CAPTION_ENCODING, f"{cap.name} {what}"))
    elif cf.empty:
        rec.issues.append(Issue(Problem.EMPTY_CAPTION, cap.name))
