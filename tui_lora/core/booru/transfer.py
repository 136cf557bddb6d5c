"""One file's transfer for the downloader: resumed with Range, capped in size and in time, and taken
only from hosts the site's :class:`~tui_lora.core.booru.netguard.HostPolicy` allows (redirects too)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import Any, Protocol

import requests

from tui_lora.core.booru import netguard
from tui_lora.core.booru.errors import host_of
from tui_lora.core.booru.files import is_disk_full, open_part, part_size
from tui_lora.core.booru.http import Cancelled, RateLimiter, parse_retry_after
from tui_lora.core.humanize import file_size as human_size

CHUNK = 64 * 1024


class _Run(Protocol):
    """What a transfer needs from the download run (downloader._Run), named here so this module does not
    import the downloader that imports it."""

    options: Any  # downloader.DownloadOptions: deadline, timeout, max_bytes
    session: requests.Session
    limiter: RateLimiter
    policy: netguard.HostPolicy | None
    stop: threading.Event
    lock: Any  # a threading.Lock
    active: set[requests.Response]
    parts: set[Path]

    def add_bytes(self, n: int) -> None: ...


class RetryLater(Exception):
    """A try failed in a way the next may not; ``connection_failed`` when the site could not be
    reached (the report then says so as data, not in words to search)."""

    def __init__(self, reason: str, retry_after: float | None = None, *, connection_failed: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.connection_failed = reason, retry_after, connection_failed


class GiveUp(Exception):
    """No try will fetch this file; ``too_large`` when it passed the size cap (its sample may not)."""

    def __init__(self, status: str, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.status, self.reason, self.too_large = status, reason, too_large


def transfer(run: "_Run", url: str, part: Path) -> int:
    """Fetch ``url`` into ``part`` (resuming what is there); return the final size in bytes."""
    offset = part_size(part)
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    run.limiter.wait(run.stop)
    try:
        with netguard.deadline(run.options.deadline):
            return _stream(run, url, part, offset, headers)
    except netguard.DeadlineExceeded:
        raise GiveUp("failed", f"{host_of(url)} took more than {run.options.deadline:g} s for this file") from None
    except (Cancelled, RetryLater, GiveUp):
        raise
    except requests.exceptions.RequestException as exc:  # before OSError: requests' errors subclass it
        if run.stop.is_set():  # abort() closed the transfer under us
            raise Cancelled from None
        raise _request_problem(exc, url) from None
    except OSError as exc:
        if run.stop.is_set() and not is_disk_full(exc):
            raise Cancelled from None
        raise
    except Exception:
        if run.stop.is_set():
            raise Cancelled from None
        raise


def _open_file(run: "_Run", url: str, headers: dict[str, str]) -> requests.Response:
    """GET ``url``, following redirects by hand and only to hosts the policy allows."""
    for _ in range(netguard.MAX_REDIRECTS + 1):
        refusal = run.policy.refusal(url) if run.policy is not None else None
        if refusal:
            raise GiveUp("skipped", refusal)
        resp = run.session.get(url, headers=headers, stream=True, timeout=run.options.timeout,
                               allow_redirects=False)
        location = resp.headers.get("Location")
        if not (resp.is_redirect and location):
            return resp
        resp.close()
        url = requests.compat.urljoin(resp.url, location)
    raise GiveUp("failed", f"{host_of(url)} keeps redirecting the file")


def _stream(run: "_Run", url: str, part: Path, offset: int, headers: dict[str, str]) -> int:
    cap = run.options.max_bytes
    with _open_file(run, url, headers) as resp, _registered(run, resp):
        code = resp.status_code
        if code == 416 and offset:
            return offset  # the .part already holds the whole file; verification decides
        if code == 429 or code >= 500:
            raise RetryLater(f"HTTP {code} from {host_of(url)}", parse_retry_after(resp.headers.get("Retry-After")))
        if code >= 400:
            raise GiveUp("failed", f"HTTP {code} from {host_of(url)}")
        append = code == 206 and offset > 0 and resp.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        start = offset if append else 0
        length = resp.headers.get("Content-Length")
        if cap and length and length.isdigit() and start + int(length) > cap:
            raise GiveUp("skipped", f"larger than the size cap ({human_size(start + int(length))})", too_large=True)
        written = start
        with run.lock:
            run.parts.add(part)
        with os.fdopen(open_part(part, append=append), "ab" if append else "wb") as fh:
            for chunk in resp.iter_content(CHUNK):
                if run.stop.is_set():
                    raise Cancelled
                fh.write(chunk)
                written += len(chunk)
                run.add_bytes(len(chunk))
                if cap and written > cap:
                    raise GiveUp("skipped", f"larger than the size cap ({human_size(written)})", too_large=True)
            fh.flush()
            os.fsync(fh.fileno())
        return written


def _request_problem(exc: Exception, url: str) -> Exception:
    host = host_of(url)
    if isinstance(exc, requests.exceptions.Timeout):
        return RetryLater(f"timed out talking to {host}")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return RetryLater(f"the connection to {host} dropped mid-file", connection_failed=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return RetryLater(f"could not connect to {host}", connection_failed=True)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return GiveUp("failed", "the site gave an invalid file URL")
    return RetryLater(f"request failed ({type(exc).__name__})")


@contextlib.contextmanager
def _registered(run: "_Run", resp: requests.Response):
    with run.lock:
        run.active.add(resp)
    try:
        yield
    finally:
        with run.lock:
            run.active.discard(resp)


def interrupt(resp: requests.Response) -> None:
    """Wake a worker blocked reading ``resp``: shutting the socket down ends a pending recv()
    at once, where close() alone would wait for the read timeout."""
    sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
    with contextlib.suppress(Exception):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        resp.close()
