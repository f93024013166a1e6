"""The WordPress REST API source against a real loopback server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.feeds import (
    HARBOUR_HTML,
    HARBOUR_IMAGE,
    HARBOUR_LINK,
    HARBOUR_TITLE,
    NOW,
    assert_harbour,
    client_for,
    settings_for,
    wp_post,
)
from support.http import Request, ScriptedServer, write_config

from digest.collect.base import SourceResult
from digest.collect.wordpress import MAX_PAGES, WordPressSource, posts_url
from digest.errors import FetchError, SourceError
from digest.models import Grade

API = "/blog/wp-json/wp/v2/posts"
JSON = {"Content-Type": "application/json; charset=UTF-8"}

OTHER_HTML = """
<p><strong>Overview:</strong> Two rival bakers share one oven for a summer.
BBC Two; 2024; PG; 58 min.</p>
<p><strong>Proving Ground:</strong> Light, quick and sweeter than it needs to be.</p>
<p><strong>Overall:</strong> Pleasant enough.</p>
<p><strong>Rating:</strong> 3/5</p>
"""


def collect(tmp_path: Path, url: str, *, allow_private: bool = True) -> SourceResult:
    source = {"type": "wordpress", "url": url, "allow_private": allow_private, "name": "wp"}
    settings = settings_for(write_config(tmp_path, [source], selection={"days": 7}))
    with client_for(settings) as client:
        wp = WordPressSource(settings.sources[0], settings=settings, client=client, conn=None)
        return wp.collect(now=NOW)


def paged(pages: list[list[dict[str, Any]]], total: int | None = None) -> Any:
    """A handler serving ``pages`` by the ``page`` query parameter, with WordPress headers."""

    def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
        page = int(request.query.get("page", ["1"])[0])
        headers = {**JSON, "X-WP-TotalPages": str(total or len(pages)), "X-WP-Total": "3"}
        if page > len(pages):
            body = {"code": "rest_post_invalid_page_number", "message": "bad page"}
            return 400, JSON, json.dumps(body).encode()
        return 200, headers, json.dumps(pages[page - 1]).encode()

    return handler


def two_pages() -> list[list[dict[str, Any]]]:
    harbour = wp_post(
        101,
        title=HARBOUR_TITLE,
        link=HARBOUR_LINK,
        date_gmt="2026-11-23T09:30:00",
        html=HARBOUR_HTML,
        image=HARBOUR_IMAGE,
    )
    bakers = wp_post(
        102,
        title="The Oven &amp; the Ocean",
        link="https://reviews.example.org/2026/11/oven/",
        date_gmt="2026-11-21T18:00:00",
        html=OTHER_HTML,
    )
    third = wp_post(
        103,
        title="Night&#8217;s Watchers",
        link="https://reviews.example.org/2026/11/night/",
        date_gmt="2026-11-20T07:15:00",
        html="<p><strong>Rating:</strong> D-</p>",
    )
    return [[harbour, bakers], [third]]


def test_two_pages_every_field(server: ScriptedServer, tmp_path: Path) -> None:
    server.route(API, handler=paged(two_pages()))
    result = collect(tmp_path, server.url("/blog/"))
    assert result.problems == ()
    assert [r.title for r in result.reviews] == [
        HARBOUR_TITLE,
        "The Oven & the Ocean",
        "Night’s Watchers",
    ]
    harbour = result.reviews[0]
    assert_harbour(harbour, source="wp")
    assert harbour.image is not None
    assert (harbour.image.width, harbour.image.height) == (1200, 675)
    assert harbour.key == "101"

    bakers = result.reviews[1]
    assert bakers.published == datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert bakers.facts is not None
    assert (bakers.facts.network, bakers.facts.year) == ("BBC Two", 2024)
    assert (bakers.facts.certificate, bakers.facts.runtime) == ("PG", "58 min")
    assert bakers.grade == Grade.parse("3/5")  # the fraction mapped onto the letter scale
    assert bakers.grade is not None and bakers.grade.raw == "3/5"
    assert bakers.image is None

    requests = [r for r in server.requests_to(API) if "page" in r.query]
    assert [r.query["page"] for r in requests] == [["1"], ["2"]]
    first = requests[0].query
    window_start = NOW.astimezone(UTC) - timedelta(days=7 + 2)
    assert first["after"] == [window_start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert first["_embed"] == ["1"]
    assert first["per_page"] == ["50"]


def test_page_cap(server: ScriptedServer, tmp_path: Path) -> None:
    many = [two_pages()[0]] * (MAX_PAGES + 5)
    server.route(API, handler=paged(many))
    result = collect(tmp_path, server.url("/blog"))
    assert len([r for r in server.requests_to(API) if "page" in r.query]) == MAX_PAGES
    assert any(f"only the first {MAX_PAGES}" in p.message for p in result.problems)


def test_not_a_wordpress_site(server: ScriptedServer, tmp_path: Path) -> None:
    page = "<!doctype html><html><body>Welcome to my shop</body></html>"
    server.route(API, page, headers={"Content-Type": "text/html"})
    with pytest.raises(SourceError, match="not a WordPress REST API — check the url"):
        collect(tmp_path, server.url("/blog"))


def test_missing_api_is_a_clear_http_error(server: ScriptedServer, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        collect(tmp_path, server.url("/elsewhere"))


def test_wordpress_error_object(server: ScriptedServer, tmp_path: Path) -> None:
    body = {"code": "rest_disabled", "message": "The REST API is <b>disabled</b>."}
    server.route(API, json.dumps(body), headers=JSON)
    with pytest.raises(SourceError, match="WordPress answered rest_disabled"):
        collect(tmp_path, server.url("/blog"))


def test_posts_with_wrong_types_are_problems(server: ScriptedServer, tmp_path: Path) -> None:
    good = two_pages()[0][0]
    no_date = {**good, "id": 5, "date_gmt": None, "link": "https://reviews.example.org/x/"}
    bad_title = {**good, "id": 6, "title": "plain string", "link": "https://reviews.example.org/y/"}
    refused_media = {
        **good,
        "id": 7,
        "link": "https://reviews.example.org/z/",
        "_embedded": {"wp:featuredmedia": [{"code": "rest_forbidden"}], "author": "nobody"},
    }
    server.route(API, json.dumps([good, 42, no_date, bad_title, refused_media]), headers=JSON)
    result = collect(tmp_path, server.url("/blog"))
    assert [r.key for r in result.reviews] == ["101", "7"]
    refused = result.reviews[1]
    assert refused.image is None and refused.author == ""
    messages = " | ".join(p.message for p in result.problems)
    assert "post 2 is not an object" in messages
    assert "no readable publication date" in messages
    assert "'6' has no title" in messages


def test_loopback_refused_by_default(server: ScriptedServer, tmp_path: Path) -> None:
    server.route(API, handler=paged(two_pages()))
    with pytest.raises(FetchError, match="allow_private: true"):
        collect(tmp_path, server.url("/blog"), allow_private=False)


@pytest.mark.parametrize(
    ("site", "endpoint"),
    [
        ("https://example.org", "https://example.org/wp-json/wp/v2/posts"),
        ("https://example.org/blog/", "https://example.org/blog/wp-json/wp/v2/posts"),
        ("https://example.org/wp-json/", "https://example.org/wp-json/wp/v2/posts"),
        ("https://example.org/wp-json/wp/v2/posts", "https://example.org/wp-json/wp/v2/posts"),
    ],
)
def test_posts_url(site: str, endpoint: str) -> None:
    assert posts_url(site) == endpoint
