"""The fake booru's HTTP side: how each request is answered, apart from the server's state.

:class:`BooruHandler` turns one request into the answer Gelbooru's or Safebooru's ``dapi``,
Danbooru's ``/posts.json`` and ``/counts/posts.json``, or a file host would send, including the
quirks (429, truncated and stalled bodies, broken JSON) that :class:`~.booru_server.BooruServer`
queues. It is apart from the server because the answer shapes are the bulk of the fake and change
whenever a site does, while the server's controls (quirks, throttles, the catalogue) do not.
:class:`Seen` records each request for the tests' assertions.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from tui_lora.demo.booru_server import BooruServer

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


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hanging up is part of the tests
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class BooruHandler(BaseHTTPRequestHandler):
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
                "preview_url": self.booru.preview_url(p, site),
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
                item["preview_file_url"] = self.booru.preview_url(p, "danbooru")
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
        post, body, what = hit
        if what == "preview":  # thumbnails never misbehave: the quirks are for the file downloads
            return self._send(200, body, "image/jpeg")
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
