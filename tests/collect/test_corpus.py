"""Every feed in ``corpus/`` ends, within the time bound, in reviews or a one-line report.

The corpus (written by ``corpus/make_corpus.py`` from our own text, checked in) holds feeds in
many encodings, entity bombs in several of them, stray close tags, deep nesting, truncated
XML, an HTML error page, empty and binary answers. Each is served by the loopback test server
and collected the way a run collects: a failure is a source's one-line report, and none may be
an "unexpected error … please report this as a bug".
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from support.feeds import NOW, settings_for
from support.http import serving, write_config

from digest.collect.collection import collect

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = json.loads(
    (CORPUS / "EXPECTED.json").read_text(encoding="utf-8")
)
TYPES = {".xml": "application/rss+xml", ".html": "text/html; charset=utf-8"}
TYPES |= {".json": "application/feed+json", ".bin": "application/octet-stream"}
#: http.total_timeout in the test config: the bound on fetching and reading each feed.
TOTAL_TIMEOUT = 15


def test_every_corpus_feed_ends_in_reviews_or_one_line(tmp_path: Path) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.name in EXPECTED)
    assert len(files) == len(EXPECTED) >= 30
    with serving() as server:
        sources: list[dict[str, object]] = []
        for path in files:
            server.route(
                f"/{path.name}", path.read_bytes(), headers={"Content-Type": TYPES[path.suffix]}
            )
            sources.append(
                {
                    "type": "feed",
                    "url": server.url(f"/{path.name}"),
                    "allow_private": True,
                    "name": path.name,
                }
            )
        config = settings_for(
            write_config(tmp_path, sources, http={"total_timeout": TOTAL_TIMEOUT})
        )
        started = time.monotonic()
        collection = collect(config, now=NOW)
        elapsed = time.monotonic() - started
    # Eight at a time, each within its own bound: the whole corpus well inside the sum.
    assert elapsed < TOTAL_TIMEOUT * len(files) / 8 + 10
    outcomes = {h.label: h for h in collection.sources}
    for name, expected in EXPECTED.items():
        health = outcomes[name]
        assert "report this as a bug" not in health.error, (name, health.error)
        assert "\n" not in health.error, (name, health.error)
        if "error" in expected:
            assert re.search(str(expected["error"]), health.error), (name, health.error)
            continue
        assert health.ok, (name, health.error)
        titles = [r.title for r in collection.reviews if r.source == name]
        assert titles == expected["titles"], (
            name,
            [p for p in collection.problems if p.source == name],
        )
        if "problem" in expected:
            notes = [p.message for p in collection.problems if p.source == name]
            assert any(str(expected["problem"]) in n for n in notes), (name, notes)
