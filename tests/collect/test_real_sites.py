"""Real review sites' shapes (issue 13): grade, overview, picture, dates and authors.

Each fixture under ``fixtures/`` is original text written in the shape a kind of site
publishes — a star-rated review blog behind FeedBurner, a Letterboxd member feed, an Atom
feed full of tracking pixels and share buttons, a JSON Feed with RFC 822 and zone-less dates.
Each is served by the loopback server and read by the real collect stage; every field a card
shows is asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.feeds import NOW, settings_for
from support.http import ScriptedServer, serving, write_config

from digest.collect.collection import Collection, collect
from digest.collect.images import unwanted
from digest.models import Period, Review
from digest.select import select_reviews

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TYPES = {
    "star-blog.xml": "application/rss+xml",
    "letterboxd.xml": "application/rss+xml; charset=utf-8",
    "tracking.atom": "application/atom+xml",
    "diary.json": "application/feed+json",
}
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        for name, kind in TYPES.items():
            s.route(f"/{name}", (FIXTURES / name).read_bytes(), headers={"Content-Type": kind})
        yield s


def read(server: ScriptedServer, tmp_path: Path, name: str, **options: Any) -> Collection:
    source = {"type": "feed", "url": server.url(f"/{name}"), "allow_private": True,
              "name": name, **options}  # fmt: skip
    settings = settings_for(write_config(tmp_path, [source]))
    return collect(settings, now=NOW)


def by_title(collection: Collection) -> dict[str, Review]:
    return {r.title: r for r in collection.reviews}


def test_a_star_rated_review_blog(server: ScriptedServer, tmp_path: Path) -> None:
    found = by_title(read(server, tmp_path, "star-blog.xml"))
    assert set(found) == {
        "The Salt Road", "Quiet Hours", "Festival Week: What We Are Watching",
        "Ledger of Small Hours",
    }  # fmt: skip

    salt = found["The Salt Road"]
    # The "★★½" paragraph is the grade, not the overview; the excerpt is the overview.
    assert salt.grade is not None and (salt.grade.letter, salt.grade.raw) == ("C+", "★★½")
    assert salt.overview == (
        "Two sisters drive a failing salt merchant's last lorry across the marshes, and "
        "neither will admit they are lost."
    )
    assert "★" not in salt.overview and all("★" not in s.text for s in salt.sections)
    # Not the FeedBurner pixel or the FeedFlare button: the content image, largest ≤ 1200 px.
    assert salt.image is not None
    assert salt.image.url.endswith("/salt-road-1024x576.jpg")
    assert (salt.image.width, salt.image.height) == (1024, 577)
    assert salt.image.alt == "Two women in a lorry cab at dawn"
    assert salt.author == "Wren Alcott"
    assert salt.guid == "https://backrow.example.org/?p=4101"
    assert salt.tags == ("film-reviews", "drama")
    assert salt.published == datetime(2026, 11, 23, 8, 15, tzinfo=UTC)

    quiet = found["Quiet Hours"]  # "Quiet Hours ★★★★": the grade is taken off the title
    assert quiet.grade is not None and (quiet.grade.letter, quiet.grade.raw) == ("A-", "★★★★")
    assert quiet.image is not None  # the 460 px rendition of the media:group, not the 140 px
    assert quiet.image.url == "https://cdn.backrow.example.org/quiet-hours-460.jpg"
    assert (quiet.image.width, quiet.image.height) == (460, 259)
    assert quiet.author == "Wren Alcott"  # from "wren@backrow.example.org (Wren Alcott)"
    assert quiet.overview.startswith("A night porter and an insomniac guest keep each other")

    news = found["Festival Week: What We Are Watching"]
    # "Source:", "Photo:", a short heading and "Tags:" are not fields and never empty it.
    assert news.overview.startswith("Twelve features, four of them debuts, are competing")
    assert news.grade is None and news.image is None and news.author == "The Editor"

    ledger = found["Ledger of Small Hours"]
    assert ledger.grade is not None and ledger.grade.letter == "A-"  # JSON-LD reviewRating 8/10
    assert ledger.overview.startswith("An accountant discovers that the numbers")
    assert ledger.image is not None and ledger.image.url.endswith("/ledger.jpg")
    assert (ledger.image.width, ledger.image.height) == (1200, 675)


def test_a_letterboxd_member_feed(server: ScriptedServer, tmp_path: Path) -> None:
    found = by_title(read(server, tmp_path, "letterboxd.xml"))
    copper = found["Copper Weather, 2025"]  # "… - ★★★★½" taken off the title
    assert copper.grade is not None
    assert (copper.grade.letter, copper.grade.raw) == ("A", "4.5/5")  # letterboxd:memberRating
    assert copper.overview == (
        "A storm chaser and a retired meteorologist argue about one cloud for two hours and I "
        "was gripped throughout."
    )
    assert copper.image is not None
    assert copper.image.url.endswith("/copper-weather-0-500-0-750-crop.jpg")
    assert copper.published == datetime(
        2026, 11, 24, 21, 40, 12, tzinfo=timezone(timedelta(hours=13))
    )
    assert copper.author == "Ossian Vale"
    diary = found["Parlour Games, 1998"]  # a diary entry: no rating, a one-line note
    assert diary.grade is None
    assert diary.overview == "Watched on Sunday November 22, 2026."


def test_pixels_buttons_and_atom_authors(server: ScriptedServer, tmp_path: Path) -> None:
    found = by_title(read(server, tmp_path, "tracking.atom"))
    thaw = found["The Long Thaw"]
    assert thaw.image is None  # a Medium stat pixel, a WordPress stats pixel, a tweet button
    assert thaw.grade is not None and (thaw.grade.letter, thaw.grade.raw) == ("B", "3.5 stars")
    assert thaw.author == "Ida Marchetti"  # inherited from the feed
    assert thaw.overview.startswith("A glacier town waits for spring")
    signal = found["Guest Notes: Signal Box"]
    assert signal.author == "Tomos Reed"  # from its atom:source, before the feed's
    assert signal.grade is not None and signal.grade.letter == "B"  # 7/10
    assert signal.overview.startswith("A signalman on the last night of a branch line")
    assert signal.image is not None and signal.image.url.endswith("/signal-box.jpg")
    assert found["Housekeeping: a new newsletter"].author == "Paz Okafor"  # its own


def test_json_feed_dates_and_authors(server: ScriptedServer, tmp_path: Path) -> None:
    collection = read(server, tmp_path, "diary.json")
    reviews = sorted(collection.reviews, key=lambda r: r.published)
    old, diary, ferryman = reviews
    assert diary.published == datetime(2026, 11, 23, 21, 30, tzinfo=timezone(timedelta(hours=1)))
    assert diary.author == "Jo Brannigan"  # "jo@diary.example.org (Jo Brannigan)"
    assert diary.overview.startswith("Day three: a Finnish comedy about a ferry strike")
    assert diary.grade is not None and diary.grade.letter == "B"
    assert old.author == "Jo Brannigan"  # "Jo Brannigan <jo@diary.example.org>"
    assert old.published.year == 2025
    # "2026-11-24 09:30 PM" has no zone: read at 21:30 in the source's zone, and reported.
    assert ferryman.published == datetime(2026, 11, 24, 21, 30, tzinfo=BERLIN)
    assert ferryman.author == "Reel Diary"
    assert ferryman.overview.startswith("A ferryman refuses to retire")
    assert ferryman.grade is not None and ferryman.grade.raw == "3/5"
    [note] = [p.message for p in collection.problems]
    assert note.startswith("1 date had no time zone (e.g. '2026-11-24 09:30 PM'); read in")
    assert "Europe/Berlin — set sources[0].timezone:" in note

    (tmp_path / "ny").mkdir()
    elsewhere = read(server, tmp_path / "ny", "diary.json", timezone="America/New_York")
    ferry = next(r for r in elsewhere.reviews if r.title == "The Ferryman")
    assert ferry.published == datetime(2026, 11, 24, 21, 30, tzinfo=ZoneInfo("America/New_York"))


def test_same_titled_posts_a_year_apart_are_two_reviews(
    server: ScriptedServer, tmp_path: Path
) -> None:
    collection = read(server, tmp_path, "diary.json")
    settings = settings_for(tmp_path / "config.yaml")
    period = Period("wide", NOW - timedelta(days=400), NOW)
    chosen = select_reviews(settings, collection, period, now=NOW)
    assert [r.title for r in chosen.reviews].count("Festival Diary") == 2
    assert chosen.skipped == ()


def test_feed_filters_by_category_and_title(server: ScriptedServer, tmp_path: Path) -> None:
    collection = read(
        server, tmp_path, "star-blog.xml",
        include={"categories": ["Film Reviews"]}, exclude={"title": "^ledger"},
    )  # fmt: skip
    assert sorted(r.title for r in collection.reviews) == ["Quiet Hours", "The Salt Road"]
    why = {s.title: (s.kind, s.reason) for s in collection.skipped}
    assert why == {
        "Festival Week: What We Are Watching": (
            "filtered",
            "left out by sources[0].include.categories (film-reviews)",
        ),
        "Ledger of Small Hours": ("filtered", "left out by sources[0].exclude.title (^ledger)"),
    }


def test_every_fixture_review_has_an_overview_and_no_pixel(
    server: ScriptedServer, tmp_path: Path
) -> None:
    for number, name in enumerate(TYPES):
        (tmp_path / str(number)).mkdir()
        for review in read(server, tmp_path / str(number), name).reviews:
            assert review.overview, (name, review.title)
            if review.image is not None:
                assert not unwanted_url(review.image.url), (name, review.image.url)


def unwanted_url(url: str) -> bool:
    from digest.collect.images import ImageOffer

    return unwanted(ImageOffer(url))
