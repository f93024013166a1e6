"""Sources are fetched side by side, so one slow feed does not hold up the others.

Proven with a rendezvous, not a stopwatch: each feed's server handler waits until the other
feed has been asked for too. Fetched one after another, the first request would wait out its
rendezvous, time out, and its feed would fail.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from support.feeds import rss, rss_item
from support.http import Request, ScriptedServer, write_config

from digest.collect.collection import collect
from digest.config import load_config
from digest.state import db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_feeds_are_fetched_in_parallel_and_keep_config_order(
    server: ScriptedServer, tmp_path: Path
) -> None:
    arrived = {"/a.xml": threading.Event(), "/b.xml": threading.Event()}
    partner = {"/a.xml": "/b.xml", "/b.xml": "/a.xml"}
    bodies = {
        "/a.xml": rss(rss_item(title="First Feed Review", link="https://a.example.org/r1")),
        "/b.xml": rss(rss_item(title="Second Feed Review", link="https://b.example.org/r1")),
    }

    def meet(request: Request) -> tuple[int, dict[str, str], bytes]:
        arrived[request.path].set()
        if not arrived[partner[request.path]].wait(timeout=3):
            return 503, {}, b"the other feed was never requested while this one was open"
        headers = {"Content-Type": "application/rss+xml", "ETag": f'"{request.path}"'}
        return 200, headers, bodies[request.path].encode()

    for path in arrived:
        server.route(path, handler=meet)
    config = load_config(
        write_config(
            tmp_path,
            [
                {"type": "feed", "url": server.url("/a.xml"), "allow_private": True},
                {"type": "feed", "url": server.url("/b.xml"), "allow_private": True},
            ],
        )
    )
    conn = db.connect(config.state)  # each worker opens its own connection for the cache
    collection = collect(config, now=NOW, conn=conn)
    assert collection.problems == ()
    assert [r.title for r in collection.reviews] == ["First Feed Review", "Second Feed Review"]
    cached = {row[0] for row in conn.execute("SELECT url FROM http_cache")}
    assert cached == {server.url("/a.xml"), server.url("/b.xml")}
