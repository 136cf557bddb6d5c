"""Thumbnails for what is on screen, and nothing else.

The grid asks for the cells it shows (plus the next page) with :meth:`ThumbLoader.want`, which
replaces whatever was still pending: scrolling fast through 1,000 images only ever loads the
pages you stop on. One worker thread (started by the widget when :meth:`want` says so, ending
when nothing is pending) reads each cached thumbnail from .cache/thumbs (making it first when
missing, from the same decode the scan uses), scales it to the cell's pixel box and keeps it
in a small LRU, then calls ``ready()`` — the widget posts one coalescing message for it.

Larger boxes than the cached 256 px thumbnails (the full-screen preview with kitty or sixel
graphics) are read from the image itself.

No textual here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_lora.core.project import Project

FAILED = object()  # the image does not decode: draw a placeholder instead
CHANNELS = ("viewer", "preview", "grid")  # who asks; a channel's new wishes replace only its own old ones


@dataclass(frozen=True)
class ThumbRequest:
    key: str  # the grid item's key
    source: Path  # the image file
    sha256: str | None  # its content hash when known (saves hashing the file again)
    box: tuple[int, int]  # fit into this many pixels (width, height)


class ThumbLoader:
    def __init__(self, project: "Project", *, capacity: int = 400) -> None:
        self.project = project
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, tuple[int, int]], Any] = OrderedDict()
        self._pending: dict[str, list[ThumbRequest]] = {}  # per channel, served in CHANNELS order
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._busy = False
        self.loaded = 0  # images read (a cache hit in memory does not count)
        self.generated = 0  # thumbnails that had to be made (not yet in .cache/thumbs)

    # ----- the UI thread's side ----------------------------------------------------------------------
    def get(self, key: str, box: tuple[int, int]) -> Any:
        """The scaled PIL image, FAILED, or None while not loaded."""
        with self._lock:
            got = self._cache.get((key, box))
            if got is not None:
                self._cache.move_to_end((key, box))
            return got

    def want(self, requests: Sequence[ThumbRequest], channel: str = "grid") -> bool:
        """Load these (first ones first) instead of what ``channel`` asked before; True: start a worker."""
        with self._lock:
            self._pending[channel] = [r for r in requests if (r.key, r.box) not in self._cache]
            if not any(self._pending.values()) or self._busy:
                return False
            self._busy = True
            return True

    def take_ready(self) -> set[str]:
        with self._lock:
            ready, self._ready = self._ready, set()
            return ready

    def forget(self, keys: Sequence[str] | None = None) -> None:
        """Drop cached images (all, or those of ``keys``): the files changed (fixed, restored)."""
        with self._lock:
            if keys is None:
                self._cache.clear()
                return
            gone = set(keys)
            for k in [k for k in self._cache if k[0] in gone]:
                del self._cache[k]

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._pending.values())

    # ----- the worker's side --------------------------------------------------------------------------
    def run(self, ready: Callable[[], None], cancelled: Callable[[], bool] = lambda: False) -> None:
        """Load pending requests until none is left (or ``cancelled()``); runs in a worker thread."""
        try:
            while True:
                with self._lock:
                    queue = next((self._pending[c] for c in self._order() if self._pending[c]), None)
                    if queue is None or cancelled():
                        self._busy = False
                        return
                    req = queue.pop(0)
                image = self._load(req)
                with self._lock:
                    self._cache[(req.key, req.box)] = image
                    while len(self._cache) > self.capacity:
                        self._cache.popitem(last=False)
                    self._ready.add(req.key)
                ready()
        except BaseException:
            with self._lock:
                self._busy = False
            raise

    def _order(self) -> list[str]:
        return sorted(self._pending, key=lambda c: CHANNELS.index(c) if c in CHANNELS else len(CHANNELS))

    def _load(self, req: ThumbRequest) -> Any:
        from PIL import Image

        from tui_lora.core.dataset import probe, thumbs
        from tui_lora.core.dataset.records import FileRecord

        self.loaded += 1
        try:
            if max(req.box) > thumbs.THUMB_SIZE:
                return _fit(_open_oriented(req.source), req.box)
            thumb_dir = self.project.cache_dir / "thumbs"
            cached = req.sha256 is not None and probe.thumb_file(thumb_dir, req.sha256).exists()
            record = FileRecord(req.source, req.source.name, None, "image", sha256=req.sha256)
            path = thumbs.thumbnail_path(self.project, record)
            if path is None:
                return FAILED
            if not cached:
                self.generated += 1
            with Image.open(path) as im:
                return _fit(im.convert("RGB"), req.box)
        except (OSError, ValueError, Image.DecompressionBombError):
            return FAILED


def _open_oriented(path: Path):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.draft("RGB", (2048, 2048))  # JPEGs decode straight at a fraction of their size
        return ImageOps.exif_transpose(im).convert("RGB")


def _fit(image, box: tuple[int, int]):
    from PIL import Image

    w, h = max(1, box[0]), max(1, box[1])
    scale = min(w / image.width, h / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
