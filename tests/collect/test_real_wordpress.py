"""A WordPress site with excerpts, featured media sizes and categories (issue 13).

The fixture site (``fixtures/wordpress-*.json``) is served by ``support.wpsite``, which honours
the REST parameters WordPress does, so what is asserted is what a real site would answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.feeds import NOW, settings_for
from support.http import ScriptedServer, serving, write_config
from support.wpsite import serve_site

from digest.collect.collection import Collection, collect
from digest.config import Config

POSTS = "/wp/wp-json/wp/v2/posts"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        serve_site(s)
        yield s


def settings(server: ScriptedServer, tmp_path: Path, **options: Any) -> Config:
    source = {"type": "wordpress", "url": server.url("/wp"), "allow_private": True,
              "name": "wp", **options}  # fmt: skip
    return settings_for(write_config(tmp_path, [source]))


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_excerpt_sizes_terms_and_the_posts_older_than_the_window(
    server: ScriptedServer, tmp_path: Path
) -> None:
    collection = collect(settings(server, tmp_path), now=NOW)
    found = {r.title: r for r in collection.reviews}
    assert set(found) == {"Marsh Light", "Box Office Roundup", "Trailer: Marsh Light 2"}
    marsh = found["Marsh Light"]
    # The excerpt, less its "… Continue reading", is the overview; the heading is not.
    assert marsh.overview == (
        "A birdwatcher hears something in the reeds that no field guide lists, and keeps "
        "going back to listen"
    )
    assert marsh.grade is not None and (marsh.grade.letter, marsh.grade.raw) == ("A-", "4/5")
    assert marsh.image is not None  # "large" of media_details.sizes: ≤ 1200 px, the widest
    assert marsh.image.url.endswith("/marsh-light-1024x576.jpg")
    assert (marsh.image.width, marsh.image.height) == (1024, 576)
    assert marsh.image.alt == "Reeds at dusk under a low moon"
    assert (marsh.author, marsh.guid, marsh.key) == ("Noor Haddad", "501", "501")
    assert marsh.tags == ("reviews", "horror")
    assert found["Box Office Roundup"].overview.startswith("Three openings, one surprise hit")

    [health] = collection.sources
    assert (health.in_period, health.outside) == (3, 1)  # the March post, counted not fetched
    assert health.latest == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    posts = [r for r in server.requests_to(POSTS) if "page" in r.query]
    assert posts[0].query["after"] == [stamp(NOW - timedelta(days=7 + 2))]
    assert "before" not in posts[0].query


def test_since_and_until_reach_the_site(server: ScriptedServer, tmp_path: Path) -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    until = datetime(2026, 3, 31, tzinfo=UTC)
    collection = collect(settings(server, tmp_path), now=NOW, since=since, until=until)
    [understudy] = collection.reviews
    assert understudy.title == "The Understudy’s Understudy"
    assert (
        understudy.overview == "A backstage farce that runs out of doors to slam by the interval."
    )
    assert understudy.grade is not None and understudy.grade.letter == "C+"
    [asked] = [r.query for r in server.requests_to(POSTS) if "page" in r.query]
    assert (asked["after"], asked["before"]) == (
        [stamp(since - timedelta(days=2))],
        [stamp(until + timedelta(days=2))],
    )
    [health] = collection.sources
    assert (health.in_period, health.outside) == (1, 0)


def test_category_and_title_filters_and_what_they_left_out(
    server: ScriptedServer, tmp_path: Path
) -> None:
    config = settings(
        server, tmp_path, include={"categories": ["reviews"]}, exclude={"title": "^trailer"}
    )
    collection = collect(config, now=NOW)
    assert [r.title for r in collection.reviews] == ["Marsh Light"]
    assert {s.title: (s.kind, s.reason) for s in collection.skipped} == {
        "Box Office Roundup": ("filtered", "left out by sources[0].include.categories (reviews)"),
        "Trailer: Marsh Light 2": ("filtered", "left out by sources[0].exclude.title (^trailer)"),
    }
    # Slugs resolved once; the site filtered the posts itself.
    assert [r.query["slug"] for r in server.requests_to("/wp/wp-json/wp/v2/categories")] == [
        ["reviews"]
    ]
    posts = [r for r in server.requests_to(POSTS) if "page" in r.query]
    assert all(r.query["categories"] == ["3"] for r in posts)


def test_excluding_a_tag_and_an_unknown_slug(server: ScriptedServer, tmp_path: Path) -> None:
    collection = collect(settings(server, tmp_path, exclude={"tags": ["horror"]}), now=NOW)
    assert "Marsh Light" not in {r.title for r in collection.reviews}
    assert {s.title: s.reason for s in collection.skipped} == {
        "Marsh Light": "left out by sources[0].exclude.tags (horror)"
    }
    (tmp_path / "b").mkdir()
    wrong = collect(settings(server, tmp_path / "b", include={"categories": ["reveiws"]}), now=NOW)
    assert wrong.reviews == () and wrong.all_failed
    [problem] = wrong.problems
    assert problem.message == (
        "the site has no categories reveiws; check sources[0].include.categories in "
        "config.yaml (slugs as in the site's URLs, e.g. film-reviews)"
    )


def collection_titles(collection: Collection) -> list[str]:
    return sorted(r.title for r in collection.reviews)
