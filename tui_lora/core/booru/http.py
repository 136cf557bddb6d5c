"""HTTP for the booru clients: one session, a shared rate limiter, retries with backoff.

Retries cover 429 (honouring Retry-After), 5xx, timeouts, dropped connections and bodies
that are not JSON. Errors become :mod:`tui_lora.core.booru.errors` sentences that name the
host only, so a URL carrying an API key is never shown. Every API request has a whole-request
deadline and a size cap, and redirects are followed only within the site's host
(:mod:`tui_lora.core.booru.netguard`).
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from tui_lora import __version__
from tui_lora.core.booru import netguard
from tui_lora.core.booru.errors import AuthError, NetworkError, ServerError, host_of, printable
from tui_lora.core.errors import ChangeInput, Fix, TryAgain, verbatim

USER_AGENT = f"tui-lora/{__version__} (LoRA dataset builder; python-requests)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})


class Cancelled(Exception):
    """Raised inside workers when the caller's cancel event is set."""


class RateLimiter:
    """A token bucket shared by every thread of a run, plus a shared pause after a 429.

    ``rate`` requests per second on average, at most ``burst`` at once; ``rate`` <= 0 disables
    the bucket (the pause still works). When any request is told to back off, :meth:`pause`
    holds every thread, so parallel workers do not keep hammering a site that said "slow down".
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    def wait(self, cancel: threading.Event | None = None) -> None:
        """Block until this thread may send a request; raise :class:`Cancelled` if asked to stop."""
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._paused_until - now
                if delay <= 0:
                    if self.rate <= 0:
                        return
                    self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                    self._last = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    delay = (1 - self._tokens) / self.rate
            if cancel is not None:
                if cancel.wait(min(delay, 0.25)):
                    raise Cancelled
            else:
                time.sleep(min(delay, 0.25))


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; exponential backoff from ``base_delay`` with jitter."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return backoff * (0.75 + random.random() * 0.5)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def sleep_or_cancel(seconds: float, cancel: threading.Event | None) -> None:
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise Cancelled


def make_session(pool: int = 16) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.max_redirects = netguard.MAX_REDIRECTS
    adapter = netguard.GuardedAdapter(pool_connections=4, pool_maxsize=max(4, pool))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = True
    return session


@dataclass
class Http:
    """API requests for one site: rate-limited, retried, with errors as sentences."""

    session: requests.Session
    limiter: RateLimiter
    retry: RetryPolicy = RetryPolicy()
    timeout: tuple[float, float] = (10.0, 30.0)
    site: str = "the site"  # for messages, e.g. "Gelbooru"
    max_bytes: int = netguard.API_MAX_BYTES
    deadline: float = netguard.API_DEADLINE

    def _fetch(self, url: str, params: dict[str, Any] | None, auth: Any) -> requests.Response:
        """One GET, its body read whole (at most ``max_bytes``, within ``deadline`` seconds),
        redirects followed by hand and only within the same host."""
        with netguard.deadline(self.deadline):
            for _ in range(netguard.MAX_REDIRECTS + 1):
                resp = self.session.get(url, params=params, auth=auth, timeout=self.timeout, stream=True,
                                        allow_redirects=False)
                location = resp.headers.get("Location")
                if not (resp.is_redirect and location):
                    resp._content = netguard.read_capped(resp, self.max_bytes)
                    return resp
                resp.close()
                target = requests.compat.urljoin(resp.url, location)
                if (urlsplit(target).hostname or "") != (urlsplit(url).hostname or "") \
                        or urlsplit(target).scheme not in ("http", "https"):
                    raise ServerError(f"{host_of(url)} sent the request on to {host_of(target)}, which is another site",
                                      Fix(f"if {verbatim(self.site)} moved there, {{}} to its new address",
                                          ChangeInput("booru.base_url")))
                url, params = target, None
        raise ServerError(f"{host_of(url)} keeps redirecting the request",
                          Fix("{}", ChangeInput("booru.base_url", verb="check")))

    def get(self, url: str, params: dict[str, Any] | None = None, *, auth: Any = None,
            cancel: threading.Event | None = None, allow: tuple[int, ...] = ()) -> requests.Response:
        """GET with retries; returns a 2xx response (or a status in ``allow``) with its body read."""
        host = host_of(url)
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            self.limiter.wait(cancel)
            retry_after = None
            try:
                resp = self._fetch(url, params, auth)
            except netguard.DeadlineExceeded:
                raise NetworkError(f"{host} took more than {self.deadline:g} s to answer one request, so the "
                                   "search stopped", Fix("{} later, or {}", TryAgain(),
                                                         ChangeInput("booru.base_url", verb="check"))) from None
            except netguard.TooLarge:
                raise ServerError(f"{host} sent an answer larger than {self.max_bytes // (1024 * 1024)} MB, which "
                                  "no search page needs",
                                  Fix("{}", ChangeInput("booru.base_url", verb="check"))) from None
            except requests.exceptions.Timeout:
                last = "timed out"
            except requests.exceptions.SSLError:
                raise NetworkError(f"The secure connection to {host} failed",
                                   Fix("check the system clock and certificates, or {}",
                                       ChangeInput("booru.base_url", verb="check"))) from None
            except requests.exceptions.InvalidURL:
                raise NetworkError(f"{host} is not a valid address",
                                   Fix("{}", ChangeInput("booru.base_url", verb="fix"))) from None
            except requests.exceptions.RequestException as exc:
                last = _describe_connection_error(exc)
                # Nothing listening or no such name: one quick retry, not a minute of backoff.
                if last == "the name does not resolve" or (last == "connection refused" and attempt >= 2):
                    break
            else:
                if resp.status_code < 400 or resp.status_code in allow:
                    return resp
                if resp.status_code in (401, 403):
                    raise AuthError(f"{self.site} refused the request (HTTP {resp.status_code})",
                                    Fix("{}", ChangeInput("booru.credentials", verb="check")))
                if resp.status_code not in RETRY_STATUS:
                    answer = f"HTTP {resp.status_code} {printable(resp.reason or '')}".rstrip()
                    raise ServerError(f"{host} answered {answer}",
                                      Fix("{} and {}, or {} later", ChangeInput("booru.tags", verb="check"),
                                          ChangeInput("booru.base_url", verb="check"), TryAgain()))
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                last = "is rate limiting us (HTTP 429)" if resp.status_code == 429 else f"answered HTTP {resp.status_code}"
                resp.close()
            if attempt == self.retry.attempts:
                break
            delay = self.retry.delay(attempt, retry_after)
            if retry_after is not None:
                self.limiter.pause(delay)
            sleep_or_cancel(delay, cancel)
        if "HTTP" in last:
            raise ServerError(f"{host} {last} even after {self.retry.attempts} tries",
                              Fix("wait a few minutes and {}", TryAgain()))
        raise NetworkError(f"Could not reach {host} ({last})",
                           Fix("check the internet connection ({}) and {}", ChangeInput("booru.base_url", verb="or"),
                               TryAgain()))

    def get_json(self, url: str, params: dict[str, Any] | None = None, *, auth: Any = None,
                 cancel: threading.Event | None = None, empty: Any = None) -> Any:
        """GET and parse JSON; a body that is not JSON is retried like a server error.

        ``empty`` is returned for an empty body (Safebooru answers "" when nothing matches).
        """
        host = host_of(url)
        for attempt in range(1, self.retry.attempts + 1):
            resp = self.get(url, params, auth=auth, cancel=cancel)
            body = resp.content
            if not body.strip() and empty is not None:
                return empty
            try:
                return json.loads(body)
            except ValueError:
                if attempt == self.retry.attempts:
                    break
                sleep_or_cancel(self.retry.delay(attempt), cancel)
        raise ServerError(f"{host} keeps sending a broken answer (not valid JSON)",
                          Fix("{} later, or {} points at the right kind of site", TryAgain(),
                              ChangeInput("booru.base_url", verb="check that")))


def _describe_connection_error(exc: Exception) -> str:
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text \
            or "Temporary failure in name resolution" in text:
        return "the name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    if "Network is unreachable" in text:
        return "network unreachable"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped mid-answer"
    return "the connection failed"
