"""Parsing and sanitising are bounded in time, not only in size.

The documents are built here from short fragments of markup; each test measures the real
reader on the loopback test server (or the sanitiser itself) against a wall-clock bound
generous enough for a loaded machine and far below what the unbounded work cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.feeds import NOW, client_for, rss, rss_item, settings_for
from support.http import ScriptedServer, serving, write_config

from digest.collect.base import SourceResult
from digest.collect.feed import FeedSource
from digest.collect.sanitize import html_to_paragraphs
from digest.errors import SourceError

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


def collect(tmp_path: Path, url: str, http: dict[str, Any] | None = None) -> SourceResult:
    source = {"type": "feed", "url": url, "allow_private": True, "name": "reviews"}
    settings = settings_for(write_config(tmp_path, [source], http=http))
    with client_for(settings) as client:
        feed = FeedSource(settings.sources[0], settings=settings, client=client)
        return feed.collect(now=NOW)


def test_stray_close_tags_do_not_defeat_the_nesting_cap(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # Each </q> closes nothing; counted as a close it let the blockquotes nest 124,000 deep,
    # and the sanitiser searched them all for every stray tag (50 s of CPU for one entry).
    html = "<p>Overview: Still readable.</p>" + "<blockquote></q>" * 124_000
    server.route("/feed", rss(rss_item(html=html)), headers=RSS_TYPE)
    started = time.monotonic()
    result = collect(tmp_path, server.url("/feed"))
    assert time.monotonic() - started < 8
    assert [r.overview for r in result.reviews] == ["Still readable."]


@pytest.mark.parametrize(
    "fragment",
    ['<blockquote title="<">', "<b id={i}><p>x"],
    ids=["quote-hides-the-tag-from-the-scan", "formatting-re-opened-per-paragraph"],
)
def test_markup_the_depth_scan_misreads_is_still_bounded(fragment: str) -> None:
    # 80 s and 77 s of CPU before the cap on tags; the text survives, within the text caps.
    html = "<p>first</p>" + "".join(fragment.format(i=i) for i in range(100_000))
    assert html.count("<") > 100_000
    started = time.monotonic()
    paragraphs = html_to_paragraphs(html)
    assert time.monotonic() - started < 8
    assert paragraphs[0] == "first"


def test_reading_the_feed_counts_against_total_timeout(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # Fetched in milliseconds, read for many seconds: the deadline covers the reading too.
    costly = "".join(f"<b id={i}><p>word" for i in range(2_500))
    items = [rss_item(guid=f"g{n}", link=f"https://x.example/{n}", html=costly) for n in range(80)]
    server.route("/feed", rss(*items), headers=RSS_TYPE)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"took longer than http\.total_timeout \(1 s\)"):
        collect(tmp_path, server.url("/feed"), http={"total_timeout": 1})
    assert time.monotonic() - started < 6


def test_a_feed_slow_to_parse_is_stopped_at_the_deadline(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # Unescaped markup with stray close tags: feedparser's own lenient parser took a minute
    # over 8 MB, in one call nothing could interrupt. Now its child is killed at the deadline.
    markup = "<blockquote></q>" * 31_000
    items = [
        rss_item(guid=f"g{n}", link=f"https://x.example/{n}", html="x").replace(
            "<description>A short teaser that is not the full review.</description>",
            f"<description>{markup}</description>",
        )
        for n in range(8)
    ]
    server.route("/feed", rss(*items), headers=RSS_TYPE)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"took longer than http\.total_timeout \(2 s\)"):
        collect(tmp_path, server.url("/feed"), http={"total_timeout": 2})
    assert time.monotonic() - started < 4
