"""The tagging pipeline: load a backend, then tag images with it, model and decoding overlapped.

Backends share one small interface: ``prepare(path)`` loads and preprocesses one image (thread
safe; runs in a thread pool so decoding never starves the model) and ``infer(batch)`` returns
one tag list per prepared image. :func:`iter_tags` pipelines the two;
:func:`tui_lora.core.tagging.autotag.tag_dataset` writes captions with undo snapshots, progress
and cancel for the wizard.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tui_lora.core.errors import ChangeInput, Fix, OperationFailed, UserError
from tui_lora.core.tagging.wd14 import WD14Tagger


class TaggerBackend(Protocol):
    name: str  # "wd14" | "blip"
    model: str  # what was asked for (repo id or folder)
    device: str  # "cuda" | "cpu"

    def prepare(self, path: Path) -> Any: ...

    def infer(self, batch: list[Any]) -> list[list[str]]: ...


@dataclass
class ImageTags:
    path: Path
    tags: list[str] | None  # None when the image could not be read
    error: str | None = None


def load_tagger(backend: str = "wd14", model: str = "", *, threshold: float = 0.35,
                character_threshold: float = 0.85, device: str = "auto") -> TaggerBackend:
    """Load a backend once (the wizard keeps it between runs)."""
    if backend == "wd14":
        return WD14Tagger(model, threshold=threshold, character_threshold=character_threshold, device=device)
    if backend == "blip":
        from tui_lora.core.tagging.blip import BlipCaptioner

        return BlipCaptioner(model, device=device)
    raise UserError(f"Unknown tagger {backend!r}", Fix("use wd14 (booru tags) or blip (sentences)"))


def default_workers() -> int:
    return max(2, min(16, (os.cpu_count() or 2)))


def iter_tags(tagger: TaggerBackend, paths: list[Path], *, batch_size: int = 8, workers: int | None = None,
              cancel: threading.Event | None = None) -> Iterator[ImageTags]:
    """Tag ``paths``, yielding results in input order: images are prepared in a thread pool a
    few batches ahead while the model runs; unreadable images come back with an ``error``."""
    batch_size = max(1, batch_size)
    pending: deque[tuple[Path, Future]] = deque()
    it = iter(paths)
    with ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="tag-prep") as pool:
        def fill() -> None:
            while len(pending) < batch_size * 3:
                p = next(it, None)
                if p is None:
                    return
                pending.append((p, pool.submit(tagger.prepare, p)))

        try:
            fill()
            batch: list[tuple[Path, Any, str | None]] = []  # (path, prepared, error) in input order
            good = 0
            while pending:
                if cancel is not None and cancel.is_set():
                    return
                path, fut = pending.popleft()
                fill()
                try:
                    batch.append((path, fut.result(), None))
                    good += 1
                except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
                    batch.append((path, None, _describe_image_error(exc)))
                if good == batch_size or not pending:
                    yield from _run_batch(tagger, batch)
                    batch, good = [], 0
        finally:
            for _, fut in pending:
                fut.cancel()


def _run_batch(tagger: TaggerBackend, batch: list[tuple[Path, Any, str | None]]) -> Iterator[ImageTags]:
    ready = [x for _, x, err in batch if err is None]
    try:
        results = iter(tagger.infer(ready) if ready else [])
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - a runtime failure of the model
        raise OperationFailed(f"The {tagger.name} model failed on a batch of {len(ready)} images ({exc})",
                              Fix("{} or {}", ChangeInput("tagger.batch", "1", verb="try"),
                                  ChangeInput("device", "cpu"))) from None
    for path, _, err in batch:
        yield ImageTags(path, None, err) if err is not None else ImageTags(path, next(results))


def _describe_image_error(exc: Exception) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read (corrupt or an unsupported format)"
    if isinstance(exc, (FileNotFoundError, PermissionError)):
        return f"cannot be read ({exc.strerror or exc})"
    if isinstance(exc, OSError):  # Pillow reports truncated and broken image data as OSError
        return f"is corrupt or truncated ({exc})"
    return f"cannot be decoded ({type(exc).__name__}: {exc})"

