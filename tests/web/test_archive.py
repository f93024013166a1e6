"""The archive, its feed and the preview mount, served over real HTTP from a real SQLite file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.smtp import write_reviews
from support.web import running, write_web_config

from digest.config import Config
from digest.models import Markers
from digest.state import db

BASE = "https://lateshow.example.org"


def add_issue(
    config: Config,
    key: str,
    *,
    status: str = "done",
    subject: str = "",
    body: str = "",
    reviews: int = 2,
    finished_at: str | None = "2026-11-23T07:05:00+00:00",
) -> Markers:
    """An issue row as the ledger writes it: stored HTML holding the recipient markers."""
    markers = Markers.make()
    html = (
        "<!doctype html><html><head><title>x</title></head><body>"
        f'<p><a href="{BASE}/issues/{key}">View in your browser</a></p>'
        f"<p>Evening, {markers.name}!</p>{body}"
        f'<p><a href="{markers.unsubscribe_url}">Unsubscribe</a></p></body></html>'
    )
    conn = db.connect(config.state)
    try:
        conn.execute(
            """INSERT INTO issues (id, period_start, period_end, status, subject, preheader,
                   markers, html, text, review_count, created_at, finished_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                key,
                f"{key}-start",
                f"{key}-end",
                status,
                subject or f"Issue {key}",
                f"Two reviews for {key}",
                json.dumps({"unsubscribe_url": markers.unsubscribe_url, "name": markers.name}),
                html if status != "empty" else "",
                "text",
                reviews,
                "2026-11-23T07:00:00+00:00",
                finished_at,
            ),
        )
    finally:
        conn.close()
    return markers


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_web_config(tmp_path)


@pytest.fixture
def site(config: Config) -> Iterator[httpx.Client]:
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield client


def test_the_list_shows_finished_issues_newest_first(config: Config, site: httpx.Client) -> None:
    add_issue(config, "2026-W46", subject="Older week", finished_at="2026-11-16T07:00:00+00:00")
    add_issue(config, "2026-W47", subject="Newer week <b>bold</b>", reviews=1)
    add_issue(config, "2026-W48", status="sending", subject="Still going out")
    add_issue(config, "2026-W45", status="empty", subject="Quiet week")
    page = site.get("/issues")
    assert page.status_code == 200
    text = page.text
    assert text.index("Newer week") < text.index("Older week")
    assert "Newer week &lt;b&gt;bold&lt;/b&gt;" in text  # escaped, not markup
    assert "Still going out" not in text and "Quiet week" not in text
    assert '<a href="/issues/2026-W47">' in text
    assert "23 Nov 2026" in text and "16 Nov 2026" in text  # in the newsletter's timezone
    assert 'href="/issues/feed.xml"' in text


def test_an_issue_is_shown_as_sent_without_personal_data(
    config: Config, site: httpx.Client
) -> None:
    markers = add_issue(config, "2026-W47", body="<p>Five stars for the lighthouse film.</p>")
    page = site.get("/issues/2026-W47")
    assert page.status_code == 200
    assert "Five stars for the lighthouse film." in page.text
    assert "Evening, reader!" in page.text
    assert f'href="{BASE}/unsubscribe"' in page.text
    assert markers.name not in page.text and markers.unsubscribe_url not in page.text
    assert "dgst" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "sandbox" in csp
    assert "script-src" not in csp  # falls back to default-src 'none'
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_markers_missing_from_the_stored_list_are_still_neutralised(
    config: Config, site: httpx.Client
) -> None:
    stray = Markers.make()
    add_issue(config, "2026-W47", body=f"<p>{stray.name} / {stray.unsubscribe_url}</p>")
    page = site.get("/issues/2026-W47")
    assert stray.name not in page.text and stray.unsubscribe_url not in page.text
    assert f"reader / {BASE}/unsubscribe" in page.text


def test_an_issue_still_being_sent_is_readable_so_view_in_browser_works(
    config: Config, site: httpx.Client
) -> None:
    add_issue(config, "2026-W48", status="sending", body="<p>Hot off the press.</p>")
    assert "Hot off the press." in site.get("/issues/2026-W48").text


@pytest.mark.parametrize(
    "path",
    [
        "/issues/2026-W45",  # an empty week: nothing was sent
        "/issues/2026-W49",  # no such issue
        "/issues/2026-w47",  # wrong shape
        "/issues/2026-W47x",
        "/issues/2026-W4",
        "/issues/%2e%2e%2fconfig.yaml",
        "/issues/..%2f..%2fconfig.yaml",
        "/nothing-here",
    ],
)
def test_unknown_or_malformed_issue_ids_are_404(
    config: Config, site: httpx.Client, path: str
) -> None:
    add_issue(config, "2026-W47")
    add_issue(config, "2026-W45", status="empty")
    page = site.get(path)
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert "config.yaml" not in page.text and "sources" not in page.text  # no file served
    assert "W47x" not in page.text and "w47" not in page.text  # the path is not echoed back


def test_the_feed_is_rss_with_absolute_links(config: Config, site: httpx.Client) -> None:
    add_issue(config, "2026-W46", subject="Week & \x01 <forty-six>",
              finished_at="2026-11-16T07:00:00+00:00")  # fmt: skip
    add_issue(config, "2026-W47", subject="Week forty-seven")
    add_issue(config, "2026-W48", status="sending")
    response = site.get("/issues/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    root = ET.fromstring(response.content)  # a control character would make this raise
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("title") == "The Late Show Letter"
    assert channel.findtext("link") == f"{BASE}/issues"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == ["Week forty-seven", "Week &  <forty-six>"]
    assert [i.findtext("link") for i in items] == [
        f"{BASE}/issues/2026-W47",
        f"{BASE}/issues/2026-W46",
    ]
    assert items[0].findtext("guid") == f"{BASE}/issues/2026-W47"
    assert items[0].findtext("pubDate") == "Mon, 23 Nov 2026 07:05:00 +0000"
    assert items[0].findtext("description") == "Two reviews for 2026-W47 (2 reviews)"


def test_an_empty_archive_still_answers(site: httpx.Client) -> None:
    assert "No issues have gone out yet." in site.get("/issues").text
    feed = ET.fromstring(site.get("/issues/feed.xml").content)
    assert feed.findall("channel/item") == []
    assert site.get("/healthz").text == "ok"
    root = site.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (302, "/issues")


def test_a_base_url_with_a_path_serves_under_that_path(tmp_path: Path) -> None:
    config = write_web_config(
        tmp_path,
        newsletter={
            "title": "Sub Path Letter",
            "from": "news@sub.example.org",
            "base_url": "https://sub.example.org/letters/",
        },
    )
    add_issue(config, "2026-W47", subject="Under a prefix")
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        listing = site.get("/letters/issues")
        assert listing.status_code == 200 and 'href="/letters/issues/2026-W47"' in listing.text
        page = site.get("/letters/issues/2026-W47")
        assert 'href="https://sub.example.org/letters/unsubscribe"' in page.text
        assert site.get("/issues").status_code == 404
        assert site.get("/healthz").status_code == 200


def test_preview_is_mounted_only_when_enabled(tmp_path: Path) -> None:
    off = write_web_config(tmp_path / "off")
    with running(off) as base:
        assert httpx.get(f"{base}/preview/", timeout=20).status_code == 404
    on = write_web_config(tmp_path / "on", serve={"preview": True})
    # The preview renders the current period on the real clock: a review from a minute ago.
    write_reviews(
        tmp_path / "on" / "reviews", 1, published=datetime.now(UTC) - timedelta(minutes=1)
    )
    with running(on) as base:
        response = httpx.get(f"{base}/preview/text", timeout=60)
        assert response.status_code == 200
        assert "Plain-text part" in response.text and "Test Picture Number 0" in response.text


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        (BASE, "/issues/2026-W47/", f"{BASE}/issues/2026-W47"),
        (BASE, "/preview", f"{BASE}/preview/"),
        (f"{BASE}/letters", "/letters/issues/", f"{BASE}/letters/issues"),
    ],
    ids=["trailing-slash", "mount-without-slash", "under-a-prefix"],
)
def test_redirects_never_point_at_the_requests_host(
    tmp_path: Path, base_url: str, path: str, expected: str
) -> None:
    # Behind a proxy that passes Host through, a Location built from it is an open redirect.
    config = write_web_config(
        tmp_path,
        newsletter={"title": "T", "from": "news@lateshow.example.org", "base_url": base_url},
        serve={"preview": True},
    )
    add_issue(config, "2026-W47")
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        answer = site.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.is_redirect, answer.status_code
    assert answer.headers["location"] == expected
