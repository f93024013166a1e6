"""A real HTTP server on 127.0.0.1 whose answers each test scripts.

    server.route("/feed.xml", body=rss, headers={"Content-Type": "application/rss+xml"})
    server.route("/old", status=302, headers={"Location": "http://10.0.0.1/feed"})
    server.route("/slow", hang=True)                 # accepts, never answers
    server.route("/endless", trickle=b"<item>")      # answers forever, a chunk at a time
    server.route("/cached", body=..., etag='"v1"')   # 304 when If-None-Match matches

Every request is recorded in ``server.requests`` (path, query and headers) so a test can check
what the client sent. Handlers run in daemon threads and watch a stop event, so ``stop()``
returns promptly even while a handler hangs or trickles.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support.config import write_config_file


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    trickle: bytes = b""
    trickle_interval: float = 0.01
    etag: str | None = None
    last_modified: str | None = None
    #: Called with the request instead of the fields above: returns (status, headers, body).
    handler: Callable[[Request], tuple[int, dict[str, str], bytes]] | None = None


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class ScriptedServer:
    """A loopback HTTP/1.0 server serving the routes a test sets."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve https with this server context (e.g. a trustme certificate)."""
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.scheme = "http"
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, body: bytes | str = b"", **options: object) -> Route:
        data = body.encode() if isinstance(body, str) else body
        route = Route(body=data, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        timeout = 5  # a client that never sends its request can't hold a thread forever

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Request(parts.path, parse_qs(parts.query), dict(self.headers.items()))
            server.requests.append(request)
            route = server.routes.get(parts.path)
            if route is None:
                self._answer(404, {"Content-Type": "text/plain"}, b"no such route")
                return
            if route.delay:
                server.stopping.wait(route.delay)
            if route.hang:
                server.stopping.wait(60)
                return
            if route.handler is not None:
                self._answer(*route.handler(request))
                return
            if route.trickle:
                self._trickle(route)
                return
            headers = dict(route.headers)
            if route.etag:
                headers["ETag"] = route.etag
            if route.last_modified:
                headers["Last-Modified"] = route.last_modified
            fresh = (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
            )
            if fresh:
                self._answer(304, headers, b"")
                return
            self._answer(route.status, headers, route.body)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)
            except OSError:
                pass  # the client gave up; nothing to tell it

        def _trickle(self, route: Route) -> None:
            try:
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                while not server.stopping.is_set():
                    self.wfile.write(route.trickle)
                    self.wfile.flush()
                    time.sleep(route.trickle_interval)
            except OSError:
                pass

    return Handler


@contextmanager
def serving() -> Iterator[ScriptedServer]:
    """A started server, stopped on leaving (use from a fixture in the test module)."""
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()


def write_config(
    tmp_path: Path,
    sources: list[dict[str, object]],
    *,
    http: dict[str, object] | None = None,
    selection: dict[str, object] | None = None,
) -> Path:
    """A config.yaml in ``tmp_path`` for tests of network sources; returns its path."""
    return write_config_file(
        tmp_path,
        newsletter={
            "title": "Test Reviews",
            "from": "Test Reviews <news@example.org>",
            "base_url": "https://news.example.org",
        },
        sources=sources,
        http={"connect_timeout": 2, "read_timeout": 2, "total_timeout": 5, **(http or {})},
        selection=selection or {"days": 7},
        state=str(tmp_path / "state.sqlite3"),
        outbox=None,
    )
