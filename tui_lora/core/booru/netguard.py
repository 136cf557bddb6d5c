"""Limits on what a site (or anything behind ``--base-url``) can make a fetch do.

- A whole-request deadline: per-read timeouts alone let a server that sends one byte a second
  keep a request alive forever. :func:`deadline` shuts the request's socket down when time is up.
- A size cap on API answers (:func:`read_capped`): an endless body would otherwise grow to all RAM.
- Where files may come from (:class:`HostPolicy`): the site's own hosts only (its host and the
  other hosts of its domain, such as Gelbooru's img3.gelbooru.com or Danbooru's cdn.donmai.us),
  never a loopback, link-local or private address unless ``--base-url`` itself is one (a local
  test server, a self-hosted booru). Redirects are followed by hand under the same rule.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

API_MAX_BYTES = 8 * 1024 * 1024  # a page of 200 posts is well under 1 MB
API_DEADLINE = 90.0  # seconds for one API request, answer included
FILE_DEADLINE = 900.0  # seconds for one image (50 MB at 60 KB/s)
MAX_REDIRECTS = 5

_local = threading.local()


class DeadlineExceeded(Exception):
    """A request ran past its whole-request deadline."""


class TooLarge(Exception):
    """An answer was larger than its cap."""


# ----- deadline --------------------------------------------------------------------------------------
def _watch(conn):
    watched = getattr(_local, "watched", None)
    if watched is not None:
        watched.append(conn)
    return conn


class _Pool(HTTPConnectionPool):
    def _get_conn(self, timeout=None):
        return _watch(super()._get_conn(timeout))


class _TLSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout=None):
        return _watch(super()._get_conn(timeout))


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections :func:`deadline` can see (and shut down when time is up)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def _shutdown(conn) -> None:
    sock = getattr(conn, "sock", None)
    with contextlib.suppress(Exception):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[dict[str, bool]]:
    """Everything requested in this block, in this thread, gets ``seconds`` in all: then its socket
    is shut down and the block raises :class:`DeadlineExceeded` instead of the transfer's error."""
    watched: list = []
    previous = getattr(_local, "watched", None)
    _local.watched = watched
    state = {"expired": False}

    def expire() -> None:
        state["expired"] = True
        for conn in list(watched):
            _shutdown(conn)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    except Exception:
        if state["expired"]:
            raise DeadlineExceeded from None
        raise
    finally:
        timer.cancel()
        _local.watched = previous


def read_capped(resp: requests.Response, cap: int) -> bytes:
    """The body of a streamed response, refusing more than ``cap`` bytes (declared or sent)."""
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > cap:
        resp.close()
        raise TooLarge
    chunks, size = [], 0
    for chunk in resp.iter_content(64 * 1024):
        size += len(chunk)
        if size > cap:
            resp.close()
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


# ----- where requests may go ------------------------------------------------------------------------
def address_kind(host: str) -> str:
    """"loopback", "link-local", "private", "special" or "public" for ``host``'s addresses (the most
    restricted kind wins; "public" when the name does not resolve: the request fails on its own)."""
    try:
        ips = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            ips = {ipaddress.ip_address(info[4][0].split("%", 1)[0])
                   for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
        except (OSError, ValueError, UnicodeError):
            return "public"
    kinds = {_kind(ip) for ip in ips}
    for kind in ("special", "link-local", "loopback", "private"):
        if kind in kinds:
            return kind
    return "public"


def _kind(ip) -> str:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "special"
    if ip.is_private:
        return "private"
    return "public"


def _domain(host: str) -> str:
    """The part of a host name its sibling hosts share: img3.gelbooru.com → gelbooru.com; an IP as is."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        labels = host.rstrip(".").split(".")
        return ".".join(labels[-2:]) if len(labels) >= 2 else host


class HostPolicy:
    """Which hosts files (and redirects) may come from, for a site at ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_host = (urlsplit(base_url).hostname or "").lower()
        self.domain = _domain(self.base_host)
        self._base_kind: str | None = None
        self._kinds: dict[str, str] = {}
        self._lock = threading.Lock()

    def _kind_of(self, host: str) -> str:
        with self._lock:
            if host not in self._kinds:
                self._kinds[host] = address_kind(host)
            return self._kinds[host]

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be requested, or None."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            return "the site gave a URL that is not a web address"
        if host != self.base_host and not host.endswith("." + self.domain) and host != self.domain:
            return f"the file is on {host}, which is not one of the site's hosts"
        kind = self._kind_of(host)
        if kind != "public" and kind != self._kind_of(self.base_host):
            return f"the file is on a {kind} address ({host}), which only a site address of that kind may use"
        return None
