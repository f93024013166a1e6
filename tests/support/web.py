"""``digest serve`` for tests: the real app on the real uvicorn server, on 127.0.0.1, port 0.

``running(config)`` goes through the same ``web.bind`` and ``web.server`` as the command, so a
test exercises the socket set-up and the server settings (access log off) that production uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.state import db, subscribers
from digest.web import app as web
from support.config import build_config

#: A config for web tests; ``base_url`` is public, the test server is wherever it listens.
CONFIG: dict[str, Any] = {
    "newsletter": {
        "title": "The Late Show Letter",
        "from": "The Late Show Letter <letters@lateshow.example.org>",
        "reply_to": "desk@lateshow.example.org",
        "base_url": "https://lateshow.example.org",
        "timezone": "Europe/Berlin",
        "postal_address": "The Late Show Letter, Hafenstraße 3, 20359 Hamburg, Germany",
    },
    "sources": [{"type": "folder", "path": "reviews"}],
    "state": "state/digest.sqlite3",
}


def write_web_config(tmp: Path, **overrides: Any) -> Config:
    """A config.yaml in ``tmp`` from ``CONFIG``; ``overrides`` replace top-level keys."""
    return build_config(tmp, outbox=None, **{**CONFIG, **overrides})


def add_subscriber(config: Config, email: str, name: str = "") -> subscribers.Subscriber:
    conn = db.connect(config.state)
    try:
        return subscribers.add(conn, email, name)
    finally:
        conn.close()


def status_of(config: Config, email: str) -> str:
    conn = db.connect(config.state)
    try:
        found = subscribers.get(conn, email)
    finally:
        conn.close()
    assert found is not None
    return found.status


@contextmanager
def running(config: Config) -> Iterator[str]:
    """Serve ``create_app(config)`` until the block ends; yields the base URL."""
    sock = web.bind("127.0.0.1", 0)
    server = web.server(config, sock)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="digest-serve-test", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
