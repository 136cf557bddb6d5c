"""Parallel, verified, resumable image download into one dataset folder.

Every file is streamed to a hidden ``.<name>.part`` file and renamed to ``<source>_<id>.<ext>``
only after its md5 matches the post's (or, for a sample without an md5, after it decodes), so an
interrupted run never leaves a half-written image. Re-running resumes ``.part`` files with an
HTTP Range request and skips images already there, or removed into ``dataset/.trash``.
File names come from the post id and a checked extension, never from the site, and every path
is checked to be inside the destination folder.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import requests

from tui_lora.core.booru import netguard
from tui_lora.core.booru.defaults import (
    DEFAULT_FILE_RATE,
    DEFAULT_JOBS,
    DEFAULT_MAX_BYTES,
    HUGE_PIXELS,
    MAX_JOBS,
)
from tui_lora.core.booru.errors import BooruError, DiskFullError
from tui_lora.core.booru.files import (
    DISK_FULL,
    check_free_space,
    present_stems,
    remove_quietly,
    safe_target,
    trashed_stems,
    url_ext,
    verify_file,
    write_text_file,
)
from tui_lora.core.booru.http import (
    Cancelled,
    RateLimiter,
    RetryPolicy,
    make_session,
)
from tui_lora.core.booru.posts import Post, clean_extension, unique, unusable_reason
from tui_lora.core.booru.report import DownloadReport, ItemResult, Progress
from tui_lora.core.booru.transfer import GiveUp, RetryLater, interrupt, transfer
from tui_lora.core.errors import Fix, TryAgain
from tui_lora.core.fsutil import fsync_dir
from tui_lora.core.humanize import file_size as human_size


@dataclass(frozen=True)
class DownloadOptions:
    rate: float = DEFAULT_FILE_RATE          # file requests per second, shared by all workers
    max_bytes: int | None = DEFAULT_MAX_BYTES  # larger files are skipped (or their sample used)
    use_sample_for_huge: bool = False        # download the site's sample for originals over huge_pixels
    huge_pixels: int = HUGE_PIXELS
    captions: bool = True                    # write <image><caption_extension> with the post's tags
    caption_extension: str = ".txt"
    retry: RetryPolicy = RetryPolicy(attempts=4)
    timeout: tuple[float, float] = (10.0, 60.0)
    deadline: float = netguard.FILE_DEADLINE  # seconds for one file in all, however slowly it trickles


class _Run:
    """State shared by the workers of one download() call."""

    def __init__(self, dest: Path, total: int, options: DownloadOptions, session: requests.Session,
                 limiter: RateLimiter, progress: Callable[[Progress], None] | None,
                 policy: netguard.HostPolicy | None = None) -> None:
        self.dest = dest
        self.policy = policy
        self.total = total
        self.options = options
        self.session = session
        self.limiter = limiter
        self.progress_cb = progress
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bytes = 0
        self.counts = {"downloaded": 0, "exists": 0, "skipped": 0, "failed": 0}
        self.start = time.monotonic()
        self.first_net: float | None = None
        self.last_emit = 0.0
        self.fatal: BaseException | None = None
        self.active: set[requests.Response] = set()
        self.parts: set[Path] = set()  # .part files this run wrote to
        self.present = present_stems(dest)
        self.trashed = trashed_stems(dest)

    def abort(self) -> None:
        """Stop every worker now, closing transfers that are waiting on a silent server."""
        self.stop.set()
        with self.lock:
            active = list(self.active)
        for resp in active:
            interrupt(resp)

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.bytes += n
            if self.first_net is None:
                self.first_net = time.monotonic()
        self.emit()

    def finished(self, item: ItemResult) -> None:
        with self.lock:
            self.counts[item.status] += 1
        self.emit(force=True, last=item.path.name if item.path else f"#{item.post_id}")

    def snapshot(self, last: str | None = None) -> Progress:
        now = time.monotonic()
        c = self.counts
        done = sum(c.values())
        elapsed = now - self.start
        net_done = c["downloaded"] + c["failed"]
        eta = None
        if net_done and self.first_net is not None:
            per_item = (now - self.first_net) / net_done
            eta = per_item * (self.total - done)
        return Progress(self.total, done, c["downloaded"], c["exists"], c["skipped"], c["failed"], self.bytes,
                        elapsed, self.bytes / elapsed if elapsed > 0 else 0.0, eta, last)

    def emit(self, *, force: bool = False, last: str | None = None) -> None:
        if self.progress_cb is None:
            return
        with self.lock:
            now = time.monotonic()
            if not force and now - self.last_emit < 0.2:
                return
            self.last_emit = now
            snap = self.snapshot(last)
            self.progress_cb(snap)


def download(posts: Sequence[Post], dest: str | os.PathLike[str], *, jobs: int = DEFAULT_JOBS,
             options: DownloadOptions | None = None, progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None, session: requests.Session | None = None,
             base_url: str | None = None) -> DownloadReport:
    """Download ``posts`` into ``dest`` with ``jobs`` parallel connections; returns a report.

    ``base_url`` is the site the posts came from (``client.base_url``): files are then fetched only
    from its hosts, never from a loopback, link-local or private address it is not itself on
    (see :class:`~tui_lora.core.booru.netguard.HostPolicy`); a file elsewhere is skipped with the reason.

    ``progress`` is called (from worker threads, never concurrently) with a :class:`Progress`
    after each file and a few times a second while bytes arrive. Setting ``cancel`` stops the
    workers within a moment; their ``.part`` files stay and the next run resumes them. A full
    disk stops the run and raises :class:`DiskFullError`; a failing file does not stop the
    others and is listed in the report.
    """
    options = options or DownloadOptions()
    jobs = max(1, min(MAX_JOBS, int(jobs)))
    # One worker per file: two posts with the same id would race on the same .part file.
    posts = unique(list(posts), key=lambda p: p.stem)
    dest_path = Path(dest).expanduser()
    try:
        dest_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BooruError(f"Cannot create {dest_path} ({exc.strerror})", Fix("check the folder's permissions")) from None
    dest_path = dest_path.resolve()
    if not os.access(dest_path, os.W_OK | os.X_OK):
        raise BooruError(f"Cannot write into {dest_path}", Fix("check the folder's permissions"))
    run = _Run(dest_path, len(posts), options, session or make_session(jobs + 2),
               RateLimiter(options.rate, burst=jobs), progress,
               netguard.HostPolicy(base_url) if base_url else None)
    check_free_space(dest_path, posts, run.present)
    report = DownloadReport(folder=dest_path, total=len(posts))
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="booru-dl")
    futures: dict[Future[ItemResult], Post] = {}
    try:
        for post in posts:
            futures[pool.submit(_worker, run, post)] = post
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.cancelled():
                    continue
                item = fut.result()
                if item is not None:
                    report.items.append(item)
            if cancel is not None and cancel.is_set() and not run.stop.is_set():
                run.abort()
                report.cancelled = True
            if run.stop.is_set():
                run.abort()
                for fut in pending:
                    fut.cancel()
    except BaseException:
        run.abort()  # Ctrl-C or an error in this thread: workers stop and leave their .part files
        report.cancelled = True
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    fsync_dir(dest_path)  # makes this run's renames durable, once rather than per file
    report.seconds = time.monotonic() - run.start
    report.items.sort(key=lambda i: i.post_id)
    if run.fatal is not None:
        if isinstance(run.fatal, DiskFullError):  # give the space back; these would not fit anyway
            for part in run.parts:
                remove_quietly(part)
        raise run.fatal
    run.emit(force=True)
    return report


def _worker(run: _Run, post: Post) -> ItemResult | None:
    if run.stop.is_set():
        return None
    try:
        item = _fetch(run, post)
    except Cancelled:
        return None
    except BooruError as exc:  # a full disk or an unwritable folder stops the whole run
        with run.lock:
            run.fatal = run.fatal or exc
        run.stop.set()
        return None
    run.finished(item)
    return item


def _fetch(run: _Run, post: Post) -> ItemResult:
    opts = run.options
    reason = unusable_reason(post.ext)
    if reason:
        return ItemResult(post.id, "skipped", reason=reason)
    if post.stem in run.trashed:
        return ItemResult(post.id, "skipped", reason="removed earlier (it is in dataset/.trash)")
    existing = run.present.get(post.stem)
    if existing is not None:
        _write_caption(run, post, existing, only_if_missing=True)
        return ItemResult(post.id, "exists", path=existing)
    if not post.file_url:
        return ItemResult(post.id, "skipped", reason="no file URL (hidden by the site)")

    url, md5, ext, sample = post.file_url, post.md5, post.ext, False
    huge = bool(post.pixels and post.pixels > opts.huge_pixels)
    too_big = bool(opts.max_bytes and post.file_size and post.file_size > opts.max_bytes)
    if post.sample_url and ((opts.use_sample_for_huge and huge) or too_big):
        url, md5, ext, sample = post.sample_url, None, url_ext(post.sample_url) or "jpg", True
    elif too_big:
        return ItemResult(post.id, "skipped", reason=f"larger than the size cap ({human_size(post.file_size)})")
    if unusable_reason(ext):
        return ItemResult(post.id, "skipped", reason=unusable_reason(ext) or "")
    try:
        final = safe_target(run.dest, f"{post.stem}.{clean_extension(ext)}")
    except ValueError as exc:
        return ItemResult(post.id, "failed", reason=str(exc))
    part = run.dest / f".{final.name}.part"

    last, connection_failed = "", False
    size = 0
    for attempt in range(1, opts.retry.attempts + 1):
        if run.stop.is_set():
            raise Cancelled
        retry_after = None
        try:
            outcome = transfer(run, url, part)
        except RetryLater as r:
            last, retry_after, connection_failed = r.reason, r.retry_after, r.connection_failed
        except GiveUp as g:
            remove_quietly(part)
            if g.too_large and post.sample_url and not sample:
                url, md5, ext, sample = post.sample_url, None, url_ext(post.sample_url) or "jpg", True
                final = safe_target(run.dest, f"{post.stem}.{clean_extension(ext)}")
                part = run.dest / f".{final.name}.part"
                continue
            return ItemResult(post.id, g.status, reason=g.reason)
        except OSError as exc:
            _raise_disk(run, exc, part)
            raise
        else:
            size = outcome
            problem = verify_file(part, md5)
            if problem is None:
                try:
                    os.replace(part, final)  # the folder is fsynced once at the end of the run
                except OSError as exc:
                    _raise_disk(run, exc, part)
                    raise
                _write_caption(run, post, final, only_if_missing=False)
                return ItemResult(post.id, "downloaded", path=final, bytes=size, used_sample=sample)
            remove_quietly(part)  # a wrong checksum is not resumable: start over
            last, connection_failed = problem, False
        if attempt < opts.retry.attempts:
            delay = opts.retry.delay(attempt, retry_after)
            if retry_after is not None:
                run.limiter.pause(delay)
            if run.stop.wait(delay):
                raise Cancelled
    return ItemResult(post.id, "failed", reason=f"{last} after {opts.retry.attempts} tries",
                      connection_failed=connection_failed)


def _write_caption(run: _Run, post: Post, image: Path, *, only_if_missing: bool) -> None:
    if not run.options.captions:
        return
    ext = run.options.caption_extension
    path = image.with_suffix(ext if ext.startswith(".") else "." + ext)
    caption = post.caption()
    if not caption or (only_if_missing and path.exists()) or os.path.islink(path):
        return  # a caption that is a link is the user's arrangement: never replaced by a file
    try:
        write_text_file(path, caption)
    except OSError as exc:
        _raise_disk(run, exc, None)


def _raise_disk(run: _Run, exc: OSError, part: Path | None) -> None:
    if exc.errno in DISK_FULL:
        if part is not None:
            remove_quietly(part)
        raise DiskFullError(f"Cannot write into {run.dest} ({exc.strerror}: the disk or your quota is full)",
                            Fix("free some space and {} to finish the download", TryAgain())) from None
    raise BooruError(f"Cannot write into {run.dest} ({exc.strerror})",
                     Fix("check the folder's permissions and {}", TryAgain())) from None


