"""Network collection benchmark: 20 RSS feeds of 50 full-content reviews from a loopback server.

    .venv/bin/python bench/collect.py [--feeds 20] [--items 50] [--repeat 3]

Runs the real ``digest.collect.collect`` (fetch over HTTP, defusedxml check, feedparser, nh3,
label parsing) on a config listing every feed. "cold" fetches every body in full; "cached" runs
again with the state database, so every feed answers 304 Not Modified and is parsed from the
remembered copy. Medians of ``--repeat`` runs. Peak RSS is the process maximum so far
(``resource.getrusage``), so it only grows down the table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from digest.collect.collection import collect
from digest.config import load_config
from digest.state import db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

BODY = """
<p><strong>Overview:</strong> Episode {n} of an imagined anthology follows a night-shift
radio host whose callers all seem to know the ending of a story she has not told yet.
Channel {c}; 20{y:02d}; 15; 52 min.</p>
<p><strong>Dead Air:</strong> The opening stretch is all atmosphere: rain on a studio window,
a kettle that never quite boils, a switchboard lighting up one line at a time. The direction
lets silences run long enough to become uncomfortable, which is exactly the point.</p>
<p>When the first caller finally speaks, the episode narrows to two voices and a clock, and
the writing earns that confidence with dialogue that is precise without being showy.</p>
<p><strong>Signal and Noise:</strong> The second half is busier and slightly weaker, adding a
subplot about the station's owner that mostly exists to deliver exposition. Still, the lead
performance keeps the whole thing anchored, and the final minute lands cleanly.</p>
<p><img src="https://cdn.example.org/bench/{n}.jpg" alt="A studio microphone at night"
width="1200" height="675"></p>
<p><strong>Overall:</strong> Moody, patient and mostly rewarding late-night television.</p>
<p><strong>Rating:</strong> {grade}</p>
<p><strong>Featured Image:</strong> Channel {c}</p>
"""
GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "F", "3.5/5", "8/10")


def feed(number: int, items: int) -> bytes:
    entries = []
    for i in range(items):
        n = number * 1000 + i
        body = BODY.format(n=n, c=number % 9 + 1, y=i % 25, grade=GRADES[n % len(GRADES)])
        published = format_datetime(NOW - timedelta(hours=3 * i + number))
        entries.append(
            f"<item><title>Night Calls, episode {n}</title>"
            f"<link>https://reviews.example.org/night-calls/{n}/</link>"
            f"<guid>night-calls-{n}</guid><pubDate>{published}</pubDate>"
            f"<dc:creator>Bench Writer</dc:creator>"
            f"<description>Teaser {n}</description>"
            f"<content:encoded>{escape(body)}</content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Feed '
        f"{number}</title><link>https://reviews.example.org/</link><description>b</description>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


def serve(feeds: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = feeds.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = f'"{hash(body)}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.daemon = True
    loop.start()
    return server


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feeds = {f"/feed/{n}.xml": feed(n, args.items) for n in range(args.feeds)}
    server = serve(feeds)
    port = server.server_address[1]
    total_bytes = sum(len(b) for b in feeds.values())
    with tempfile.TemporaryDirectory() as tmp:
        sources = "\n".join(
            f"  - {{type: feed, url: 'http://127.0.0.1:{port}{path}', allow_private: true}}"
            for path in feeds
        )
        config_text = (
            'newsletter: {title: Bench, from: "Bench <b@example.org>", '
            "base_url: https://example.org}\n"
            f"sources:\n{sources}\nstate: state.sqlite3\n"
        )
        (Path(tmp) / "config.yaml").write_text(config_text, encoding="utf-8")
        config = load_config(Path(tmp) / "config.yaml")
        expected = args.feeds * args.items
        print(
            f"{args.feeds} feeds × {args.items} items, {total_bytes / 1e6:.1f} MB of RSS "
            f"(median of {args.repeat})\n"
        )
        print("| run    | wall s | items/s | reviews | peak RSS MB |")
        print("|--------|-------:|--------:|--------:|------------:|")
        for label, use_state in (("cold", False), ("cached", True)):
            times = []
            conn = db.connect(config.state) if use_state else None
            if conn is not None:
                collect(config, now=NOW, conn=conn)  # fill the cache; the timed runs get 304s
            for _ in range(args.repeat):
                start = time.perf_counter()
                collection = collect(config, now=NOW, conn=conn)
                times.append(time.perf_counter() - start)
            if conn is not None:
                conn.close()
            if collection.problems or len(collection.reviews) != expected:
                sys.exit(f"unexpected result: {len(collection.reviews)} reviews, "
                         f"{collection.problems[:3]}")  # fmt: skip
            wall = statistics.median(times)
            print(
                f"| {label:<6} | {wall:6.2f} | {expected / wall:7.0f} | {expected:7d} "
                f"| {peak_rss_mb():11.0f} |"
            )
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
