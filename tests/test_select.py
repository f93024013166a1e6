"""Collecting from several sources, and selecting one period's reviews from what they gave."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.collect.base import SourceResult
from digest.collect.collection import Collection, collect
from digest.collect.registry import REGISTRY
from digest.config import Config, load_config
from digest.errors import SourceError
from digest.models import Facts, Grade, Image, Period, Review, Skipped
from digest.period import current_period
from digest.select import select_reviews

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
PERIOD = Period(key="2026-W48", start=NOW - timedelta(days=7), end=NOW)
BODY = "Overview: A film. Lanternfly; 2026; 12; 88 min.\n\nRating: {grade}\n"


def write_config(
    tmp_path: Path, sources: str, *, selection: str = "{days: 7, max_reviews: 20, order: newest}"
) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(
        "newsletter:\n"
        "  title: Test Digest\n"
        '  from: "Test <news@example.org>"\n'
        "  base_url: https://example.org\n"
        "  timezone: Europe/Berlin\n"
        f"sources:\n{sources}"
        f"selection: {selection}\n",
        encoding="utf-8",
    )
    return load_config(path)


def review(
    title: str,
    published: datetime,
    *,
    source: str = "a",
    link: str | None = None,
    grade: str | None = None,
    year: int | None = None,
    **more: Any,
) -> Review:
    return Review(
        title=title,
        published=published,
        source=source,
        key=f"{source}:{title}:{link}",
        link=link,
        grade=Grade.parse(grade) if grade else None,
        facts=Facts(raw=f"X; {year}", network="X", year=year) if year else None,
        **more,
    )


def collection(*reviews: Review, skipped: tuple[Skipped, ...] = ()) -> Collection:
    return Collection(reviews=reviews, problems=(), skipped=skipped)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "reviews").mkdir()
    return write_config(tmp_path, "  - {type: folder, path: reviews}\n")


def reasons(skipped: tuple[Skipped, ...]) -> dict[str, str]:
    return {s.title: s.reason for s in skipped}


def test_the_window_is_half_open_and_the_future_is_named(config: Config) -> None:
    chosen = select_reviews(
        config,
        collection(
            review("At the start", PERIOD.start),
            review("Just before", PERIOD.start - timedelta(seconds=1)),
            review("Last second", PERIOD.end - timedelta(seconds=1)),
            review("At the end", PERIOD.end),
            review("Next year", NOW + timedelta(days=365)),
        ),
        PERIOD,
        now=NOW,
    )
    assert [r.title for r in chosen.reviews] == ["Last second", "At the start"]
    why = reasons(chosen.skipped)
    assert why["Just before"].startswith("outside the period (published 2026-11-18 11:59, before")
    assert why["At the end"].startswith("outside the period (published 2026-11-25 12:00, after")
    assert why["Next year"].startswith("dated in the future (2027-11-25 12:00)")


def test_after_an_explicit_until_is_outside_not_future(config: Config) -> None:
    period = Period(key="2026-W46", start=NOW - timedelta(days=14), end=NOW - timedelta(days=7))
    chosen = select_reviews(
        config, collection(review("Recent", NOW - timedelta(days=1))), period, now=NOW
    )
    assert chosen.reviews == ()
    assert "outside the period" in reasons(chosen.skipped)["Recent"]
    assert "after" in reasons(chosen.skipped)["Recent"]


def test_the_same_link_from_two_sources_folds_into_the_richer_copy(config: Config) -> None:
    when = NOW - timedelta(days=1)
    thin = review(
        "Salt Flats", when, source="feed", link="http://www.reel.example.org/r/salt/?utm_source=rss"
    )
    rich = review(
        "Salt Flats",
        when,
        source="wordpress",
        link="https://reel.example.org/r/salt/",
        grade="B",
        image=Image(url="https://reel.example.org/i.jpg", alt="A salt flat"),
        verdict="Good.",
    )
    chosen = select_reviews(config, collection(thin, rich), PERIOD, now=NOW)
    assert chosen.reviews == (rich,)
    [dup] = chosen.skipped
    assert (dup.title, dup.source) == ("Salt Flats", "feed")
    assert dup.reason == "duplicate of “Salt Flats” from wordpress"


def test_title_and_year_fold_only_link_less_copies(config: Config) -> None:
    when = NOW - timedelta(days=2)
    first = review("Night Bus", when, source="folder", year=2026, grade="C", verdict="Fine.")
    second = review("NIGHT  BUS", when - timedelta(days=3), source="notes", year=2026)
    other_year = review("Night Bus", when, source="notes", year=1999)
    linked = review(
        "Night Bus", when, source="feed", link="https://mirror.example.net/nb", year=2026
    )
    chosen = select_reviews(config, collection(first, second, other_year, linked), PERIOD, now=NOW)
    assert [(r.title, r.year, r.source) for r in chosen.reviews] == [
        ("Night Bus", 2026, "folder"),
        ("Night Bus", 1999, "notes"),
        ("Night Bus", 2026, "feed"),  # a copy with a link is only ever folded by its link
    ]
    [dup] = chosen.skipped
    assert (dup.title, dup.source, dup.kind) == ("NIGHT BUS", "notes", "duplicate")
    assert dup.reason == "duplicate of “Night Bus” from folder"
    assert dup.folded_into is first


def test_same_titled_posts_far_apart_or_at_two_links_stay_two_reviews(config: Config) -> None:
    period = Period(key="2026-W48", start=NOW - timedelta(days=400), end=NOW)
    a_year_ago = review("Festival Diary", NOW - timedelta(days=366), source="notes")
    this_week = review("Festival Diary", NOW - timedelta(days=1), source="notes")
    listing_1 = review("What's On", NOW - timedelta(days=1), link="https://x.org/on/1")
    listing_2 = review("What's On", NOW - timedelta(days=2), link="https://x.org/on/2")
    chosen = select_reviews(
        config, collection(a_year_ago, this_week, listing_1, listing_2), period, now=NOW
    )
    assert len(chosen.reviews) == 4
    assert chosen.skipped == ()


def test_the_same_guid_from_one_source_is_one_review(config: Config) -> None:
    when = NOW - timedelta(days=1)
    old = review("Moth Season", when, source="feed", link="https://x.org/2026/moth", guid="p-7")
    moved = review(
        "Moth Season", when, source="feed", link="https://x.org/reviews/moth", guid="p-7",
        grade="B",
    )  # fmt: skip
    elsewhere = review("Moth Season", when, source="other", link="https://y.org/m", guid="p-7")
    chosen = select_reviews(config, collection(old, moved, elsewhere), PERIOD, now=NOW)
    # Two links under one guid: the guid identifies nothing, the links decide.
    assert len(chosen.reviews) == 3
    unique = select_reviews(config, collection(moved, elsewhere), PERIOD, now=NOW)
    assert len(unique.reviews) == 2  # a guid only names an entry within its own source
    plain = review("Moth Season", when, source="feed", guid="p-7")
    folded = select_reviews(config, collection(moved, plain), PERIOD, now=NOW)
    assert folded.reviews == (moved,)
    assert folded.skipped[0].folded_into is moved


def test_folding_is_transitive(config: Config) -> None:
    when = NOW - timedelta(days=2)
    # a~b share a link, b~c share a guid: one review, whatever order they come in.
    a = review("Glass Harbour", when, source="a", link="https://x.org/gh")
    b = review("Glass Harbour", when, source="b", link="https://x.org/gh/", guid="gh-1")
    c = review("Glass Harbour", when, source="b", guid="gh-1", grade="B", verdict="Yes.")
    for order in ((a, b, c), (c, a, b), (a, c, b)):
        chosen = select_reviews(config, collection(*order), PERIOD, now=NOW)
        assert chosen.reviews == (c,)
        assert sorted(s.source for s in chosen.skipped) == ["a", "b"]


def test_equal_copies_keep_the_first_source(config: Config) -> None:
    when = NOW - timedelta(days=2)
    a = review("Twin", when, source="first", link="https://x.org/twin")
    b = review("Twin", when, source="second", link="https://x.org/twin/")
    chosen = select_reviews(config, collection(a, b), PERIOD, now=NOW)
    assert chosen.reviews == (a,)


def test_already_sent_reviews_are_left_out_even_by_a_folded_copys_id(config: Config) -> None:
    when = NOW - timedelta(days=1)
    sent = review("Old News", when, source="folder", year=2026)
    copy = review("Old News", when, source="notes", year=2026, grade="A")
    new = review("New News", when)
    chosen = select_reviews(
        config, collection(sent, copy, new), PERIOD, already_sent=frozenset({sent.id}), now=NOW
    )
    assert [r.title for r in chosen.reviews] == ["New News"]
    assert reasons(chosen.skipped)["Old News"] in (
        "already sent in an earlier issue",
        "duplicate of “Old News” from notes",
    )
    assert [s.reason for s in chosen.skipped].count("already sent in an earlier issue") == 1


def test_newest_first(config: Config) -> None:
    titles = [f"Day {d}" for d in range(1, 6)]
    reviews = [review(t, NOW - timedelta(days=int(t[-1]))) for t in titles]
    chosen = select_reviews(config, collection(*reviews), PERIOD, now=NOW)
    assert [r.title for r in chosen.reviews] == titles


def test_by_grade_ungraded_last_then_newest(tmp_path: Path) -> None:
    (tmp_path / "reviews").mkdir()
    config = write_config(
        tmp_path,
        "  - {type: folder, path: reviews}\n",
        selection="{days: 7, max_reviews: 20, order: grade}",
    )
    day = timedelta(days=1)
    reviews = [
        review("Ungraded new", NOW - day),
        review("B old", NOW - 5 * day, grade="B"),
        review("A+ old", NOW - 6 * day, grade="A+"),
        review("B new", NOW - 2 * day, grade="8/10"),  # A-
        review("B newer", NOW - day, grade="B"),
        review("F", NOW - 3 * day, grade="F"),
        review("Ungraded old", NOW - 4 * day),
    ]
    chosen = select_reviews(config, collection(*reviews), PERIOD, now=NOW)
    assert [r.title for r in chosen.reviews] == [
        "A+ old",
        "B new",
        "B newer",
        "B old",
        "F",
        "Ungraded new",
        "Ungraded old",
    ]


def test_capped_at_max_reviews(tmp_path: Path) -> None:
    (tmp_path / "reviews").mkdir()
    config = write_config(
        tmp_path,
        "  - {type: folder, path: reviews}\n",
        selection="{days: 7, max_reviews: 2, order: newest}",
    )
    reviews = [review(f"R{i}", NOW - timedelta(hours=i + 1)) for i in range(4)]
    earlier = Skipped("Broken entry", "feed", "no Overview:, Rating: or sections found")
    chosen = select_reviews(config, collection(*reviews, skipped=(earlier,)), PERIOD, now=NOW)
    assert [r.title for r in chosen.reviews] == ["R0", "R1"]
    assert chosen.skipped[0] == earlier  # what a source skipped is passed on
    why = reasons(chosen.skipped)
    assert why["R2"] == why["R3"]
    assert why["R2"].startswith("over max_reviews (2); raise selection.max_reviews")


# ---------------------------------------------------------------------------------------------
# collect(): every source runs, whatever the others do
# ---------------------------------------------------------------------------------------------


class ExplodingSource:
    """A source with a bug: the kind of failure collect() must contain."""

    def __init__(
        self,
        entry: Any,
        *,
        settings: Config,
        client: httpx.Client,
        conn: sqlite3.Connection | None,
    ) -> None:
        self.label = entry.label

    def collect(self, *, now: datetime, **window: object) -> SourceResult:
        raise ZeroDivisionError("division by zero")


def test_one_broken_source_never_stops_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "kept-review.txt").write_text(BODY.format(grade="A"), encoding="utf-8")
    config = write_config(
        tmp_path,
        "  - {type: folder, path: missing, name: missing folder}\n"
        "  - {type: feed, url: 'https://feed.invalid/feed', name: buggy feed}\n"
        "  - {type: folder, path: good, name: good folder}\n",
    )
    monkeypatch.setitem(REGISTRY, "feed", ExplodingSource)
    caplog.set_level("DEBUG", logger="digest.collect")
    with httpx.Client() as client:
        result = collect(config, now=datetime.now(UTC), client=client)

    assert [r.title for r in result.reviews] == ["Kept Review"]
    problems = {p.source: p.message for p in result.problems}
    assert problems["missing folder"].startswith("folder ")
    assert "does not exist; create it or fix the path" in problems["missing folder"]
    assert not problems["missing folder"].startswith("source ")  # the label is not repeated
    assert problems["buggy feed"].startswith("unexpected error (ZeroDivisionError")
    assert "Traceback" in caplog.text  # the details are logged for a bug report
    assert [(s.label, s.ok, s.reviews) for s in result.sources] == [
        ("missing folder", False, 0),
        ("buggy feed", False, 0),
        ("good folder", True, 1),
    ]
    assert not result.all_failed


def test_all_sources_failing_is_visible(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  - {type: folder, path: nowhere}\n")
    result = collect(config, now=datetime.now(UTC))
    assert result.all_failed
    assert result.reviews == ()


def test_collect_then_select_the_current_period(tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "fresh.txt").write_text(BODY.format(grade="B+"), encoding="utf-8")
    (folder / "stale.txt").write_text("Date: 2020-01-01\n\n" + BODY.format(grade="C"), "utf-8")
    (folder / "tomorrow.txt").write_text("Date: 2099-01-01\n\n" + BODY.format(grade="D"), "utf-8")
    config = write_config(tmp_path, "  - {type: folder, path: reviews}\n")
    now = datetime.now(UTC)
    chosen = select_reviews(config, collect(config, now=now), current_period(config, now), now=now)
    assert [(r.title, str(r.grade)) for r in chosen.reviews] == [("Fresh", "B+")]
    why = reasons(chosen.skipped)
    assert why["Stale"].startswith("outside the period (published 2020-01-01 00:00")
    assert why["Tomorrow"].startswith("dated in the future")


def test_source_errors_name_the_source() -> None:
    assert str(SourceError("my feed", "gone")) == "source my feed: gone"
