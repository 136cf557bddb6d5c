"""A hostile booru for the issue-14 tests: a real HTTP server on 127.0.0.1 whose answers a test writes.

    with HostileServer() as srv:
        srv.answer("/index.php", json_body({"post": 5}))     # every request to that path
        srv.url                                              # http://127.0.0.1:PORT
        srv.requests                                         # (path, query) of every request

Each answer is a function of the request handler, so it can send anything: a wrong JSON shape, an
endless body, one byte a second, a redirect to another host, escape sequences in a reason phrase.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Answer = Callable[[BaseHTTPRequestHandler], None]


def png_bytes(seed: int = 0) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (seed * 40 % 256, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def send(handler: BaseHTTPRequestHandler, body: bytes, *, status: int = 200, reason: str | None = None,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status, reason)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


def json_body(data, **kw) -> Answer:
    body = json.dumps(data).encode()
    return lambda h: send(h, body, headers={"Content-Type": "application/json"}, **kw)


def raw(body: bytes, **kw) -> Answer:
    return lambda h: send(h, body, **kw)


def endless(h: BaseHTTPRequestHandler) -> None:
    """A JSON answer that never ends (no Content-Length, closed by the client)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(b'{"post": [')
    chunk = b'{"id": 1, "tags": "' + b"a" * 65000 + b'"},'
    try:
        while True:
            h.wfile.write(chunk)
    except OSError:
        return


def trickle(h: BaseHTTPRequestHandler, body: bytes = b'{"post": []}' * 1000) -> None:
    """A valid header, then one byte a second: per-read timeouts never fire."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    try:
        for i in range(len(body)):
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()
            time.sleep(1.0)
    except OSError:
        return


def redirect(location: str) -> Answer:
    return lambda h: send(h, b"", status=302, headers={"Location": location})


class HostileServer:
    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def answer(self, path: str, fn: Answer) -> None:
        self.routes[path] = fn

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def __enter__(self) -> "HostileServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the name http.server calls
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with server._lock:
                    server.requests.append((parts.path, query))
                fn = server.routes.get(parts.path)
                if fn is None:
                    send(self, b"not here", status=404)
                else:
                    fn(self)

            def log_message(self, *args) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass

        self._httpd = Quiet(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
