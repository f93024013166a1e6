"""A review keeps its identity across a link change (same guid) and a guid change (same link).

Two real runs into the Maildir outbox, a week apart, against a feed on the loopback server:
the first issue carries "Harbour Lights"; before the second, the feed changes that entry's
link (or its guid) and adds a new review. The second issue carries only the new review —
before identities, the moved entry counted as new and went out a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.feeds import HARBOUR_LINK, HARBOUR_TITLE, rss, rss_item
from support.http import ScriptedServer, serving
from support.smtp import NOW, add_subscribers, write_config

from digest.config import Config, load_config
from digest.pipeline.run import run_once
from digest.state import db

RSS = {"Content-Type": "application/rss+xml"}
MOVED_LINK = "https://reviews.example.org/reviews/harbour-lights-tv/"
NEW_ENTRY = dict(
    title="Copper Weather",
    link="https://reviews.example.org/2026/11/copper-weather/",
    guid="copper-weather-1",
    date="Wed, 25 Nov 2026 18:00:00 +0000",
)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


def _config(tmp_path: Path, server: ScriptedServer) -> Config:
    source = {"type": "feed", "url": server.url("/feed.xml"), "allow_private": True, "name": "f"}
    config = load_config(write_config(tmp_path, sources=[source]))
    add_subscribers(config, 2)
    return config


def _carried(config: Config) -> dict[str, list[str]]:
    conn = db.connect(config.state)
    try:
        rows = conn.execute("SELECT DISTINCT issue_id, title FROM issue_reviews ORDER BY title")
        found: dict[str, list[str]] = {}
        for issue, title in rows:
            found.setdefault(issue, []).append(title)
        return found
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("change", "moved"),
    [
        ("link", {"link": MOVED_LINK}),  # a permalink change: same guid
        ("guid", {"guid": "https://reviews.example.org/?p=101"}),  # a new guid: same link
    ],
)
def test_a_review_whose_link_or_guid_changes_is_not_sent_again(
    server: ScriptedServer, tmp_path: Path, change: str, moved: dict[str, str]
) -> None:
    config = _config(tmp_path, server)
    server.route("/feed.xml", rss(rss_item(guid="harbour-lights-1")), headers=RSS)
    first = run_once(config, now=NOW)
    assert (first.outcome, first.reviews) == ("sent", 1)

    harbour = {"guid": "harbour-lights-1", "link": HARBOUR_LINK, **moved}
    server.route("/feed.xml", rss(rss_item(**harbour), rss_item(**NEW_ENTRY)), headers=RSS)
    second = run_once(config, now=NOW + timedelta(days=7))

    assert (second.outcome, second.reviews) == ("sent", 1), change
    assert _carried(config) == {"2026-W48": [HARBOUR_TITLE], "2026-W49": ["Copper Weather"]}


def test_a_guid_stamped_on_every_entry_identifies_none_of_them(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # A broken feed gives every entry one guid: the links decide, nothing is lost as "sent".
    config = _config(tmp_path, server)
    server.route("/feed.xml", rss(rss_item(guid="post")), headers=RSS)
    assert run_once(config, now=NOW).reviews == 1
    entries = rss_item(guid="post"), rss_item(**{**NEW_ENTRY, "guid": "post"})
    server.route("/feed.xml", rss(*entries), headers=RSS)
    second = run_once(config, now=NOW + timedelta(days=7))
    assert (second.outcome, second.reviews) == ("sent", 1)
    assert _carried(config)["2026-W49"] == ["Copper Weather"]
