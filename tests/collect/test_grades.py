"""Where sites put a grade besides ``Rating:`` — the title, a paragraph of its own, JSON-LD."""

from __future__ import annotations

import pytest

from digest.collect.grades import json_ld_grade, paragraph_grade, split_title, take_grade_paragraphs
from digest.collect.images import ImageOffer, choose, unwanted


@pytest.mark.parametrize(
    ("title", "rest", "letter"),
    [
        ("Night Bus ★★★★½", "Night Bus", "A"),
        ("Night Bus review – 4/5", "Night Bus review", "A-"),
        ("[3.5/5] Night Bus", "Night Bus", "B"),
        ("★★★ The Long Walk", "The Long Walk", "B-"),
        ("The Long Walk (3.5 stars)", "The Long Walk", "B"),
        ("Copper Weather, 2025 - ★★★★½", "Copper Weather, 2025", "A"),
    ],
)
def test_a_grade_is_taken_off_the_title(title: str, rest: str, letter: str) -> None:
    stripped, grade = split_title(title)
    assert stripped == rest
    assert grade is not None and grade.letter == letter


@pytest.mark.parametrize(
    "title", ["Plan B", "Malcolm X", "24/7", "Catch-22", "Part 2/5", "Ocean's 11", "Top 10", "***"]
)
def test_titles_that_only_look_graded_keep_their_text(title: str) -> None:
    assert split_title(title) == (title, None)


def test_a_grade_paragraph_is_not_text_but_a_section_break_is_no_grade() -> None:
    kept, grade = take_grade_paragraphs(["★★½", "A real paragraph.", "***", "3.5 stars"])
    assert kept == ["A real paragraph.", "***"]
    assert grade is not None and grade.raw == "★★½"
    assert paragraph_grade("B") is None  # a bare letter needs a Rating: label


def test_json_ld_review_rating() -> None:
    html = (
        '<script type="application/ld+json">{"@type": ["Review"], "reviewRating": '
        '{"ratingValue": 3, "bestRating": 4}}</script><p>Text</p>'
    )
    grade = json_ld_grade(html)
    assert grade is not None and (grade.letter, grade.raw) == ("B+", "3/4")
    assert json_ld_grade('<script type="application/ld+json">{not json</script>') is None
    aggregate = '<script type="application/ld+json">{"@type": "Movie", "aggregateRating": {}}'
    assert json_ld_grade(aggregate + "</script>") is None


def test_renditions_and_unwanted_images() -> None:
    offers = [
        ImageOffer("https://c.example/a-140.jpg", width=140),
        ImageOffer("https://c.example/a-2400.jpg", width=2400),
        ImageOffer("https://c.example/a-1024.jpg", width=1024),
        ImageOffer("https://c.example/pixel.gif", width=1, height=1),
        ImageOffer("https://c.example/first-in-text.jpg", group=1),
    ]
    assert [o.url.rsplit("/", 1)[1] for o in choose(offers)] == [
        "a-1024.jpg", "a-2400.jpg", "a-140.jpg", "first-in-text.jpg",
    ]  # fmt: skip
    for url in (
        "http://feeds.feedburner.com/~ff/site?d=abc",
        "http://feeds.feedburner.com/~r/site/~4/abc",
        "https://secure.gravatar.com/avatar/abc?s=96",
        "https://s.w.org/images/core/emoji/15.0.3/72x72/2b50.png",
        "https://site.example/static/buttons/tweet.png",
        "https://site.example/images/share-facebook.png",
    ):
        assert unwanted(ImageOffer(url)), url
    assert not unwanted(ImageOffer("https://site.example/uploads/share-the-road.jpg"))
