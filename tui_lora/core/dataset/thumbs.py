"""Small cached thumbnails for the review grid, in ``<project>/.cache/thumbs``.

Thumbnails are named by the image's content hash, so a renamed or restored image keeps its
thumbnail and an edited one gets a new one. A scan with ``thumbnails=True`` writes them from
the decode it does anyway; these functions make the missing ones (lazily, or many in parallel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.dataset import probe as probe_mod
from tui_lora.core.dataset.hashcache import sha256_file, stat_key
from tui_lora.core.dataset.records import FileRecord

if TYPE_CHECKING:  # pragma: no cover
    from tui_lora.core.project import Project

THUMB_SIZE = probe_mod.THUMB_SIZE
Progress = Callable[[int, int], None]


def _known_sha(project: "Project", path: Path) -> str | None:
    """The cached content hash when the file is unchanged since the last scan."""
    from tui_lora.core.dataset.hashcache import HashCache
    from tui_lora.core.dataset.scan import CACHE_VERSION

    try:
        key = path.absolute().relative_to(project.root).as_posix()
        size, mtime = stat_key(path)
    except (OSError, ValueError):
        return None
    with HashCache(project.cache_dir, content_version=CACHE_VERSION) as cache:
        return cache.sha_if_unchanged(key, size, mtime)


def thumbnail_path(project: "Project", image: Path | FileRecord, size: int = THUMB_SIZE) -> Path | None:
    """The image's thumbnail (made now if missing); None when the image does not decode."""
    if isinstance(image, FileRecord):
        path, sha = image.path, image.sha256
    else:
        path, sha = Path(image), None
    return _thumbnail(project.cache_dir / "thumbs", path, sha or _known_sha(project, path), size)


def _thumbnail(thumb_dir: Path, path: Path, sha: str | None, size: int) -> Path | None:
    try:
        sha = sha or sha256_file(path)
    except OSError:
        return None
    out = probe_mod.thumb_file(thumb_dir, sha, size)
    if out.exists():
        return out
    try:
        res = probe_mod.probe_file(path, thumb_dir=thumb_dir, thumb_size=size)
    except OSError:
        return None
    made = probe_mod.thumb_file(thumb_dir, res.sha256, size)  # the file may have changed meanwhile
    return made if made.exists() else None


def make_thumbnails(
    project: "Project",
    images: Sequence[Path | FileRecord],
    *,
    size: int = THUMB_SIZE,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> dict[Path, Path | None]:
    """Thumbnails for many images in parallel: {image path: thumbnail path or None}."""
    from tui_lora.core.dataset.scan import default_workers

    thumb_dir = project.cache_dir / "thumbs"
    jobs = [(im.path, im.sha256) if isinstance(im, FileRecord) else (Path(im), None) for im in images]
    out: dict[Path, Path | None] = {}

    def one(job: tuple[Path, str | None]) -> tuple[Path, Path | None]:
        if cancel is not None and cancel.is_set():
            return job[0], None
        return job[0], _thumbnail(thumb_dir, job[0], job[1], size)

    with ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="tui-lora-thumbs") as ex:
        for n, (path, thumb) in enumerate(ex.map(one, jobs), 1):
            out[path] = thumb
            if progress:
                progress(n, len(jobs))
    return out
