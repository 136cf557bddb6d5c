"""A fake booru: a real HTTP server on 127.0.0.1 that answers like Gelbooru, Safebooru and Danbooru.

One server imitates all three sites under path prefixes; point a client at ``server.base_url(source)``::

    from tui_lora.demo.booru_server import BooruServer

    with BooruServer() as srv:                       # a default catalogue of posts
        srv.base_url("safebooru")                    # http://127.0.0.1:PORT/safebooru
        srv.gelbooru_credentials                     # ("4242", "gelkey-secret"): Gelbooru wants them
        srv.quirk(post_id, "truncate", times=1)      # file quirks, see QUIRKS
        srv.throttle_api(times=1, retry_after=1)     # the next API request gets 429 + Retry-After

    def test_something(booru_server):                # the pytest fixture (tests/conftest.py)
        ...

It also serves ``tui-lora demo``: the demo project's Fetch screen searches it, so a newcomer can
try fetching with no account and no internet. Standard library only (no pytest here). This module
holds the server's state and test controls; the answers themselves are in :mod:`.booru_handler`.

What it imitates:
- Gelbooru ``/index.php?page=dapi&s=post&q=index&json=1``: ``{"@attributes": {limit, offset, count},
  "post": [...]}``, ``post`` missing when nothing matches and a bare object for a single post;
  401 without credentials (``require_gelbooru_auth``); paging deeper than ``max_offset`` fails;
  tags HTML-escaped (``&#039;``); ``s=tag&names=...`` answers tag types (4 character, 3 copyright,
  1 artist, 0 general, 5 meta). Without ``json=1`` it answers XML ``<posts count=.. offset=..>``.
- Safebooru (same dapi): a bare JSON array without ``file_url`` (``directory`` + ``image``), ``hash``
  for md5, ratings "safe"/"questionable"/"explicit", an empty body when nothing matches.
- Danbooru ``/posts.json`` (tag_string_* by category, rating letters, ``page=N`` or ``page=b<id>``),
  ``/counts/posts.json``; anonymous searches of more than 2 tags get 422 TagLimitError; login +
  api_key (params or HTTP basic auth) checked against ``danbooru_credentials``.
- Files with real md5s, HTTP Range support, and the quirks: truncated body, a stall mid-body, wrong
  bytes, slow response, 429 with Retry-After, 500, 404, closed connection; hostile file names in
  URLs and ``image``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from urllib.parse import quote, unquote

from tui_lora.demo.booru_catalogue import HOSTILE_NAME, FakePost, image_bytes, make_catalogue, term_matches
from tui_lora.demo.booru_handler import BooruHandler, QuietServer, Seen

__all__ = ["HOSTILE_NAME", "QUIRKS", "SOURCES", "BooruServer", "FakePost", "Seen", "image_bytes",
           "make_catalogue"]

SOURCES = ("gelbooru", "safebooru", "danbooru")
QUIRKS = ("truncate", "stall", "corrupt", "slow", "429", "500", "close", "404")


@dataclass
class BooruServer:
    """The fake booru. Start with ``with BooruServer() as srv`` (or :meth:`start` / :meth:`stop`)."""

    posts: list[FakePost] = field(default_factory=make_catalogue)
    latency: float = 0.0  # seconds added to every request
    require_gelbooru_auth: bool = True
    gelbooru_credentials: tuple[str, str] = ("4242", "gelkey-secret")
    danbooru_credentials: tuple[str, str] = ("alice", "danbooru-secret")
    max_offset: int = 20_000  # Gelbooru/Safebooru: pid * limit beyond this fails
    danbooru_max_page: int = 1000
    slow_seconds: float = 1.5
    retry_after: str = "1"
    tag_api: bool = True  # False: s=tag answers XML, as an old Gelbooru 0.2 engine would
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._quirks: dict[int, list[str]] = {}
        self._forever: dict[int, str] = {}
        self._api_throttle = 0
        self._malformed: dict[tuple[str, int], int] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._index: dict[str, tuple[FakePost, str]] = {}
        self._index_key: tuple = ()
        self.in_flight = 0
        self.max_in_flight = 0  # most file requests served at once (shows parallel downloads)
        self._thread: threading.Thread | None = None

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "BooruServer":
        server = self

        class Handler(BooruHandler):
            booru = server

        self._httpd = QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-booru", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "BooruServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def base_url(self, source: str) -> str:
        assert source in SOURCES
        return f"{self.url}/{source}"

    # ----- test controls -----------------------------------------------------------------------
    def quirk(self, post_id: int, kind: str, times: int | None = 1) -> None:
        """Misbehave on the next ``times`` requests for this post's file (None: always)."""
        assert kind in QUIRKS, kind
        with self._lock:
            if times is None:
                self._forever[post_id] = kind
            else:
                self._quirks.setdefault(post_id, []).extend([kind] * times)

    def throttle_api(self, times: int = 1) -> None:
        """The next ``times`` API requests get 429 with Retry-After: ``retry_after``."""
        with self._lock:
            self._api_throttle += times

    def malformed_page(self, source: str, page: int, times: int | None = 1) -> None:
        """Page ``page`` (0-based) of ``source`` answers broken JSON ``times`` times (None: always)."""
        with self._lock:
            self._malformed[(source, page)] = 10**9 if times is None else times

    def post(self, post_id: int) -> FakePost:
        return next(p for p in self.posts if p.id == post_id)

    def file_requests(self, post_id: int | None = None) -> list[Seen]:
        paths = {self._file_path(p, s) for p in self.posts if post_id in (None, p.id) for s in SOURCES}
        paths |= {self._sample_path(p, s) for p in self.posts if post_id in (None, p.id) for s in SOURCES}
        with self._lock:
            return [r for r in self.requests if unquote(r.path) in paths]

    def api_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith((".php", ".json"))]

    # ----- helpers used by the handler ---------------------------------------------------------
    def _take_quirk(self, post_id: int) -> str | None:
        with self._lock:
            if post_id in self._forever:
                return self._forever[post_id]
            queue = self._quirks.get(post_id)
            return queue.pop(0) if queue else None

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._api_throttle > 0:
                self._api_throttle -= 1
                return True
            return False

    def _take_malformed(self, source: str, page: int) -> bool:
        with self._lock:
            left = self._malformed.get((source, page), 0)
            if left > 0:
                self._malformed[(source, page)] = left - 1
                return True
            return False

    @staticmethod
    def _file_path(post: FakePost, source: str) -> str:
        if source == "danbooru":
            return f"/danbooru/data/original/{post.md5[:2]}/{post.md5[2:4]}/{post.md5}.{post.ext}"
        if source == "safebooru":
            return f"/safebooru/images/{post.id // 100}/{post.name}"
        return f"/gelbooru/images/{post.md5[:2]}/{post.md5[2:4]}/{post.name}"

    @staticmethod
    def _sample_path(post: FakePost, source: str) -> str:
        if source == "danbooru":
            return f"/danbooru/data/sample/{post.md5[:2]}/{post.md5[2:4]}/sample-{post.md5}.jpg"
        if source == "safebooru":
            stem = post.name.rsplit(".", 1)[0]
            return f"/safebooru/samples/{post.id // 100}/sample_{stem}.jpg"
        return f"/gelbooru/samples/{post.md5[:2]}/{post.md5[2:4]}/sample_{post.md5}.jpg"

    @staticmethod
    def _preview_path(post: FakePost, source: str) -> str:
        if source == "danbooru":
            return f"/danbooru/data/preview/{post.md5[:2]}/{post.md5[2:4]}/{post.md5}.jpg"
        if source == "safebooru":
            stem = post.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # (a client keeps only the name's last part)
            return f"/safebooru/thumbnails/{post.id // 100}/thumbnail_{stem}.jpg"
        return f"/gelbooru/thumbnails/{post.md5[:2]}/{post.md5[2:4]}/thumbnail_{post.md5}.jpg"

    def preview_url(self, post: FakePost, source: str) -> str:
        """The absolute URL of a post's thumbnail, as the site's search answers give it."""
        head, _, name = self._preview_path(post, source).rpartition("/")
        return f"{self.url}{quote(head)}/{quote(name, safe='')}"

    def preview_requests(self) -> list[Seen]:
        """Requests for thumbnails (the Fetch step's pictures)."""
        with self._lock:
            return [r for r in self.requests if "/thumbnails/" in r.path or "/data/preview/" in r.path]

    def file_url(self, post: FakePost, source: str, *, sample: bool = False) -> str:
        """The absolute URL the site gives for a post's file (its name percent-encoded whole)."""
        path = (self._sample_path if sample else self._file_path)(post, source)
        head, _, name = path.rpartition("/")
        if source != "danbooru" and not sample:
            head, name = path[: -len(post.name) - 1], post.name
        return f"{self.url}{quote(head)}/{quote(name, safe='')}"

    def _find_file(self, path: str) -> tuple[FakePost, bytes, str] | None:
        """(post, body, "file" | "sample" | "preview") for a file path the site serves."""
        key = tuple((id(p), id(p.data), id(p.sample), p.image_name) for p in self.posts)
        with self._lock:
            if self._index_key != key:  # posts or their files changed since the index was built
                index: dict[str, tuple[FakePost, str]] = {}
                for post in self.posts:
                    for source in SOURCES:
                        index[self._file_path(post, source)] = (post, "file")
                        index[self._preview_path(post, source)] = (post, "preview")
                        if post.sample is not None:
                            index[self._sample_path(post, source)] = (post, "sample")
                self._index, self._index_key = index, key
            hit = self._index.get(path)
        if hit is None:
            return None
        post, kind = hit
        body = {"file": post.data, "sample": post.sample, "preview": None}[kind]
        return post, (post.preview if body is None else body), kind  # type: ignore[return-value]

    def search(self, terms: list[str], *, danbooru: bool = False) -> list[FakePost]:
        found = [p for p in self.posts if all(term_matches(p, t, danbooru) for t in terms)]
        if any(t in ("sort:score", "sort:score:desc", "order:score") for t in terms):
            return sorted(found, key=lambda p: (-p.score, -p.id))
        return sorted(found, key=lambda p: -p.id)


if __name__ == "__main__":  # manual poking: python -m tui_lora.demo.booru_server
    with BooruServer(require_gelbooru_auth=False) as srv:
        for s in SOURCES:
            print(f"{s:10} --base-url {srv.base_url(s)}")
        print("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
