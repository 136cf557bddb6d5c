"""What every booru site client shares: the :class:`Client` base class, a :class:`Page` of posts,
the base-URL check, and the parsers for the loose fields sites send (ids, md5s, file extensions).

The site clients themselves (:mod:`.clients`: Gelbooru, Safebooru, Danbooru) fill in
:meth:`Client.page`, :meth:`Client.count` and :meth:`Client.categorise`. This is apart from them so a
new site reads one short contract (and the per-site defaults drawn from the registry) instead of
the other sites' quirks, and so callers that only hold a client (the listing) need not load them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from tui_lora.core.booru.credentials import Credentials
from tui_lora.core.booru.errors import QueryError
from tui_lora.core.booru.http import Http, RateLimiter, RetryPolicy, make_session
from tui_lora.core.booru.posts import Post
from tui_lora.core.booru.query import Query
from tui_lora.core.errors import ChangeInput, Fix
from tui_lora.core.registry.boorus import SITES

# Per site, from the registry (core/registry/boorus.py).
DEFAULT_BASE_URLS = {s.name: s.base_url for s in SITES.values()}
SITE_NAMES = {s.name: s.title for s in SITES.values()}
# API requests per second (search pages, counts, tag lookups); image downloads have their own limiter.
API_RATE = {s.name: s.api_rate for s in SITES.values()}


@dataclass
class Page:
    posts: list[Post]
    count: int | None = None  # the site's total for the query, when this page carries it


def check_base_url(source: str, base_url: str | None) -> str:
    url = (base_url or DEFAULT_BASE_URLS[source]).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise QueryError(f"The base URL {base_url!r} is not a web address",
                         Fix("{}", ChangeInput("booru.base_url", DEFAULT_BASE_URLS[source], verb="use e.g.")))
    if parts.username or parts.password:
        raise QueryError("The base URL may not contain a user name or password",
                         Fix("{} instead", ChangeInput("booru.credentials")))
    return url


CHECK_URL = Fix("{}", ChangeInput("booru.base_url", verb="check"))


class Client:
    """One site. Subclasses fill in :meth:`page`, :meth:`count` and :meth:`categorise`."""

    source = ""
    page_size = 100
    max_offset = 20_000  # results reachable by page number; deeper needs id-based paging

    def __init__(self, *, base_url: str | None = None, credentials: Credentials | None = None,
                 session: requests.Session | None = None, retry: RetryPolicy | None = None,
                 api_rate: float | None = None, timeout: tuple[float, float] = (10.0, 30.0)) -> None:
        self.base_url = check_base_url(self.source, base_url)
        self.credentials = credentials
        self.site = SITE_NAMES[self.source]
        limiter = RateLimiter(API_RATE[self.source] if api_rate is None else api_rate, burst=2)
        self.http = Http(session or make_session(), limiter, retry or RetryPolicy(), timeout, self.site)

    @property
    def authenticated(self) -> bool:
        return self.credentials is not None

    def page(self, query: Query, index: int, *, before_id: int | None = None,
             cancel: threading.Event | None = None) -> Page:
        raise NotImplementedError

    def count(self, query: Query, *, cancel: threading.Event | None = None) -> int | None:
        return None

    def categorise(self, posts: list[Post], *, cancel: threading.Event | None = None) -> list[Post]:
        return posts

    def check(self, query: Query) -> None:
        """Refuse, before any request, a query the site is known to reject."""
        if query.source != self.source:
            raise QueryError(f"This query is for {query.source}, not {self.source}.")

    def absolute(self, url: str | None) -> str | None:
        """A site URL made absolute (sites send ``//host/x`` or ``/x``); None unless http(s)."""
        if not url:
            return None
        full = urljoin(self.base_url + "/", str(url))
        return full if urlsplit(full).scheme in ("http", "https") else None


def ext_from(*names: str | None) -> str:
    """The lower-case extension of the first name or URL that has one ("" when none does)."""
    for name in names:
        if name:
            suffix = PurePosixPath(urlsplit(str(name)).path).suffix
            if suffix:
                return suffix.lstrip(".").lower()
    return ""


def to_int(value: Any) -> int | None:
    """A site's number (int or text) as an int; None when it is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def to_md5(value: Any) -> str | None:
    """A site's md5 in lower case; None unless it is 32 hex digits."""
    v = str(value or "").strip().lower()
    return v if re.fullmatch(r"[0-9a-f]{32}", v) else None
