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
try fetching with no account and no internet. Standard library only (no pytest here).

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

import base64
import html
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tui_lora.demo.booru_catalogue import HOSTILE_NAME, FakePost, image_bytes, make_catalogue, term_matches

__all__ = ["HOSTILE_NAME", "QUIRKS", "SOURCES", "BooruServer", "FakePost", "Seen", "image_bytes",
           "make_catalogue"]

SOURCES = ("gelbooru", "safebooru", "danbooru")
QUIRKS = ("truncate", "stall", "corrupt", "slow", "429", "500", "close", "404")
_GEL_TYPES = {"general": 0, "artist": 1, "copyright": 3, "character": 4, "meta": 5}
_DAN_FREE = {"rating", "score", "status", "limit", "id", "md5", "width", "height"}

@dataclass
class Seen:
    """One request the server received (for assertions)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


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
        self._index: dict[str, tuple[FakePost, bool]] = {}
        self._index_key: tuple = ()
        self.in_flight = 0
        self.max_in_flight = 0  # most file requests served at once (shows parallel downloads)
        self._thread: threading.Thread | None = None

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "BooruServer":
        server = self

        class Handler(_Handler):
            booru = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
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

    def file_url(self, post: FakePost, source: str, *, sample: bool = False) -> str:
        """The absolute URL the site gives for a post's file (its name percent-encoded whole)."""
        path = (self._sample_path if sample else self._file_path)(post, source)
        head, _, name = path.rpartition("/")
        if source != "danbooru" and not sample:
            head, name = path[: -len(post.name) - 1], post.name
        return f"{self.url}{quote(head)}/{quote(name, safe='')}"

    def _find_file(self, path: str) -> tuple[FakePost, bytes] | None:
        key = tuple((id(p), id(p.data), id(p.sample), p.image_name) for p in self.posts)
        with self._lock:
            if self._index_key != key:  # posts or their files changed since the index was built
                index: dict[str, tuple[FakePost, bool]] = {}
                for post in self.posts:
                    for source in SOURCES:
                        index[self._file_path(post, source)] = (post, False)
                        if post.sample is not None:
                            index[self._sample_path(post, source)] = (post, True)
                self._index, self._index_key = index, key
            hit = self._index.get(path)
        if hit is None:
            return None
        post, sample = hit
        return post, (post.sample if sample else post.data)  # type: ignore[return-value]

    def search(self, terms: list[str], *, danbooru: bool = False) -> list[FakePost]:
        found = [p for p in self.posts if all(term_matches(p, t, danbooru) for t in terms)]
        if any(t in ("sort:score", "sort:score:desc", "order:score") for t in terms):
            return sorted(found, key=lambda p: (-p.score, -p.id))
        return sorted(found, key=lambda p: -p.id)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hanging up is part of the tests
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    booru: BooruServer
    protocol_version = "HTTP/1.1"
    server_version = "FakeBooru/1.0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid 40 ms ACK stalls

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    # ----- plumbing --------------------------------------------------------------------------
    def do_GET(self) -> None:  # the name http.server calls
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.seen = Seen("GET", parts.path, query, {k: v for k, v in self.headers.items()})
        with self.booru._lock:
            self.booru.requests.append(self.seen)
        if self.booru.latency:
            time.sleep(self.booru.latency)
        path = unquote(parts.path)
        try:
            if path in ("/gelbooru/index.php", "/safebooru/index.php"):
                self._dapi(path.split("/")[1], query)
            elif path == "/danbooru/posts.json":
                self._danbooru_posts(query)
            elif path == "/danbooru/counts/posts.json":
                self._danbooru_count(query)
            else:
                self._file(path)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.seen.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: object) -> None:
        self._send(status, json.dumps(data).encode())

    def _throttled(self) -> bool:
        if self.booru._take_throttle():
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": self.booru.retry_after})
            return True
        return False

    # ----- Gelbooru / Safebooru dapi ----------------------------------------------------------
    def _dapi(self, site: str, q: dict[str, str]) -> None:
        if q.get("page") != "dapi" or q.get("q") != "index":
            return self._send(404, b"Not Found", "text/plain")
        if self._throttled():
            return
        if site == "gelbooru" and self.booru.require_gelbooru_auth:
            if (q.get("user_id"), q.get("api_key")) != self.booru.gelbooru_credentials:
                return self._send(401, b"", "text/html")
        if q.get("s") == "tag":
            if not self.booru.tag_api:  # an old engine: XML only, and no `names` filter
                return self._send(200, b'<?xml version="1.0"?><tags type="array"></tags>', "text/xml")
            return self._dapi_tags(site, q)
        if q.get("s") != "post":
            return self._send(404, b"Not Found", "text/plain")
        limit = max(0, min(int(q.get("limit") or 100), 1000 if site == "safebooru" else 100))
        pid = int(q.get("pid") or 0)
        offset = pid * limit
        if offset > self.booru.max_offset:
            return self._send(400, b"Too deep! Pull it back some.", "text/plain")
        found = self.booru.search(q.get("tags", "").split())
        chunk = found[offset:offset + limit]
        if q.get("json") != "1":
            body = f'<?xml version="1.0" encoding="UTF-8"?><posts count="{len(found)}" offset="{offset}"></posts>'
            return self._send(200, body.encode(), "text/xml; charset=utf-8")
        if self.booru._take_malformed(site, pid):
            return self._send(200, b'{"@attributes": {"limit": 100, "offset": 0, "count": 3}, "post": [{"id": 1, "md5')
        base = self.booru.url
        if site == "safebooru":
            if not chunk:
                return self._send(200, b"")  # Safebooru's "nothing found"
            items = [{
                "directory": str(p.id // 100), "hash": p.md5, "height": p.height, "width": p.width, "id": p.id,
                "image": p.name, "change": 1700000000, "owner": "danbooru", "parent_id": 0,
                "rating": {"general": "safe", "sensitive": "questionable"}.get(p.rating, p.rating),
                "sample": p.sample is not None, "sample_height": 40, "sample_width": 40, "score": p.score,
                "tags": " " + " ".join(p.flat_tags) + " ",
            } for p in chunk]
            return self._json(200, items)
        posts = []
        for p in chunk:
            posts.append({
                "id": p.id, "created_at": "Sat Jan 01 00:00:00 -0600 2022", "score": p.score, "width": p.width,
                "height": p.height, "md5": p.md5, "directory": f"{p.md5[:2]}/{p.md5[2:4]}", "image": p.name,
                "rating": p.rating, "source": "", "change": 1700000000, "owner": "danbooru", "creator_id": 1,
                "parent_id": 0, "sample": 1 if p.sample is not None else 0, "preview_height": 40,
                "preview_width": 40, "tags": html.escape(" ".join(p.flat_tags), quote=True).replace("&#x27;", "&#039;"),
                "title": "", "has_notes": "false", "has_comments": "false", "file_url": self.booru.file_url(p, "gelbooru"),
                "preview_url": f"{base}/gelbooru/thumbnails/x.jpg",
                "sample_url": self.booru.file_url(p, "gelbooru", sample=True) if p.sample else "",
                "sample_height": 40 if p.sample else 0, "sample_width": 40 if p.sample else 0,
                "status": "active", "post_locked": 0, "has_children": "false",
            })
        data: dict[str, object] = {"@attributes": {"limit": limit, "offset": offset, "count": len(found)}}
        if len(posts) == 1:
            data["post"] = posts[0]  # Gelbooru sends a bare object for one result
        elif posts:
            data["post"] = posts
        self._json(200, data)

    def _dapi_tags(self, site: str, q: dict[str, str]) -> None:
        names = [html.unescape(n) for n in q.get("names", "").split()]
        types: dict[str, str] = {}
        for p in self.booru.posts:
            for cat, tags in p.tags.items():
                for t in tags:
                    types.setdefault(t, cat)
        tags = [{"id": i + 1, "name": html.escape(n, quote=True).replace("&#x27;", "&#039;"), "count": 10,
                 "type": _GEL_TYPES[types[n]] if site == "gelbooru" else types[n].replace("meta", "metadata"),
                 "ambiguous": 0}
                for i, n in enumerate(names) if n in types]
        if site == "safebooru":
            return self._json(200, tags)
        data: dict[str, object] = {"@attributes": {"limit": 100, "offset": 0, "count": len(tags)}}
        if tags:
            data["tag"] = tags
        self._json(200, data)

    # ----- Danbooru --------------------------------------------------------------------------
    def _danbooru_user(self, q: dict[str, str]) -> tuple[bool, bool]:
        """(authenticated, credentials were offered)."""
        login, key = q.get("login"), q.get("api_key")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                login, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                login = key = None
        offered = bool(login or key)
        return offered and (login, key) == self.booru.danbooru_credentials, offered

    def _danbooru_guard(self, q: dict[str, str]) -> bool:
        if self._throttled():
            return False
        authed, offered = self._danbooru_user(q)
        if offered and not authed:
            self._json(401, {"success": False, "error": "SessionLoader::AuthenticationFailure",
                             "message": "Invalid API key"})
            return False
        terms = q.get("tags", "").split()
        counted = [t for t in terms if t.lstrip("-").partition(":")[0] not in _DAN_FREE or ":" not in t]
        if not authed and len(counted) > 2:
            self._json(422, {"success": False, "error": "PostQuery::TagLimitError",
                             "message": "You cannot search for more than 2 tags at a time."})
            return False
        return True

    def _danbooru_posts(self, q: dict[str, str]) -> None:
        if not self._danbooru_guard(q):
            return
        limit = max(1, min(int(q.get("limit") or 20), 200))
        page = q.get("page") or "1"
        found = self.booru.search(q.get("tags", "").split(), danbooru=True)
        if page.startswith("b"):
            before = int(page[1:])
            chunk = [p for p in found if p.id < before][:limit]
            index = 0
        else:
            n = int(page)
            if n > self.booru.danbooru_max_page:
                return self._json(410, {"success": False, "message": f"You cannot go beyond page "
                                        f"{self.booru.danbooru_max_page}."})
            chunk = found[(n - 1) * limit:n * limit]
            index = n - 1
        if self.booru._take_malformed("danbooru", index):
            return self._send(200, b'[{"id": 1, "md5": ')
        base = self.booru.url
        out = []
        for p in chunk:
            item = {
                "id": p.id, "created_at": "2022-01-01T00:00:00.000-05:00", "score": p.score,
                "rating": p.rating[0], "image_width": p.width, "image_height": p.height, "file_ext": p.ext,
                "file_size": len(p.data), "tag_string": " ".join(p.flat_tags),
                **{f"tag_string_{c}": " ".join(p.tags.get(c, [])) for c in ("general", "character", "copyright",
                                                                            "artist", "meta")},
                "is_deleted": False, "is_banned": False, "has_large": p.sample is not None,
            }
            if not p.hidden:
                item["md5"] = p.md5
                item["file_url"] = self.booru.file_url(p, "danbooru")
                item["large_file_url"] = (self.booru.file_url(p, "danbooru", sample=True)
                                          if p.sample else item["file_url"])
                item["preview_file_url"] = base + "/danbooru/preview.jpg"
            out.append(item)
        self._json(200, out)

    def _danbooru_count(self, q: dict[str, str]) -> None:
        if not self._danbooru_guard(q):
            return
        self._json(200, {"counts": {"posts": len(self.booru.search(q.get("tags", "").split(), danbooru=True))}})

    # ----- files -------------------------------------------------------------------------------
    def _file(self, path: str) -> None:
        with self.booru._lock:
            self.booru.in_flight += 1
            self.booru.max_in_flight = max(self.booru.max_in_flight, self.booru.in_flight)
        try:
            self._serve_file(path)
        finally:
            with self.booru._lock:
                self.booru.in_flight -= 1

    def _serve_file(self, path: str) -> None:
        hit = self.booru._find_file(path)
        if hit is None:
            return self._send(404, b"Not Found", "text/plain")
        post, body = hit
        kind = self.booru._take_quirk(post.id)
        if kind == "404":
            return self._send(404, b"Not Found", "text/plain")
        if kind == "429":
            return self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": self.booru.retry_after})
        if kind == "500":
            return self._send(500, b"Internal Server Error", "text/plain")
        if kind == "close":
            self.close_connection = True
            return
        if kind == "slow":
            time.sleep(self.booru.slow_seconds)
        if kind == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        ctype = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}.get(path.rsplit(".", 1)[-1],
                                                                                    "application/octet-stream")
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and rng[6:-1].isdigit():
            start = int(rng[6:-1])
            if start >= len(body):
                return self._send(416, b"", ctype, {"Content-Range": f"bytes */{len(body)}"})
        status = 206 if start else 200
        headers = {"Accept-Ranges": "bytes"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        if kind == "stall":  # half the body, a long silence, then the rest
            self.seen.status = status
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            half = max(1, len(payload) // 2)
            self.wfile.write(payload[:half])
            self.wfile.flush()
            time.sleep(self.booru.slow_seconds)
            self.wfile.write(payload[half:])
            return
        if kind == "truncate":
            self.seen.status = status
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload[: max(1, len(payload) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, payload, ctype, headers)


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
