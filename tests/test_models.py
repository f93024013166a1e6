"""The review model: grades normalised onto A+ … F, and a Review that checks itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import ReviewError
from digest.models import LETTERS, Grade, Image, Review, canonical_link

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("A+", "A+"),
        ("a", "A"),
        ("B -", "B-"),
        ("b minus", "B-"),
        ("C plus", "C+"),
        ("F+", "F"),  # there is no F+ on the scale
        ("B+.", "B+"),  # a full stop ending the line is not part of the grade
        ("5/5", "A+"),
        ("4.5/5", "A"),
        ("4/5", "A-"),
        ("3.5/5", "B"),
        ("3/5", "B-"),
        ("2/5", "C"),
        ("1/5", "D"),
        ("0/5", "F"),
        ("8/10", "A-"),
        ("7 out of 10", "B"),
        ("5/10", "C+"),
        ("2.5/5", "C+"),
        ("7,5/10", "B+"),
        ("85%", "A-"),
        ("40 %", "C"),
        ("★★★★★", "A+"),
        ("★★★½☆", "B"),
        ("★★☆☆☆", "C"),
        ("****", "A-"),
        ("***1/2", "B"),
        ("★★½", "C+"),
        ("★ ★ ★ ½", "B"),
        ("½", "D-"),
        ("★★½ out of 4", "B"),
        ("⭐️⭐️⭐️⭐️", "A-"),
        ("3.5 stars", "B"),
        ("3½ stars", "B"),
        ("4 stars out of 5", "A-"),
        ("4/5 stars", "A-"),
    ],
)
def test_grades_map_onto_the_letter_scale(text: str, letter: str) -> None:
    grade = Grade.parse(text)
    assert grade is not None
    assert grade.letter == letter
    assert grade.raw == " ".join(text.replace("\ufe0f", "").split()).removesuffix(".")


@pytest.mark.parametrize("text", ["", "   ", "great", "G", "6/5", "3/0", "120%", "★★★★★★", "A++"])
def test_what_is_not_a_grade(text: str) -> None:
    assert Grade.parse(text) is None


def test_grades_order_from_f_to_a_plus() -> None:
    grades = [Grade.parse(letter) for letter in LETTERS]
    ranks = [g.rank for g in grades if g is not None]
    assert ranks == list(range(13))
    a_plus, f = Grade.parse("A+"), Grade.parse("F")
    assert a_plus is not None and f is not None
    assert (a_plus.band, f.band, str(a_plus)) == ("A", "F", "A+")


def test_a_grade_off_the_scale_is_refused() -> None:
    with pytest.raises(ReviewError, match="not one of"):
        Grade("E", "E")


def _review(**changes: object) -> Review:
    fields: dict[str, object] = {
        "title": "The Film",
        "published": WHEN,
        "source": "tests",
        "key": "the-film.txt",
    }
    fields.update(changes)
    return Review(**fields)  # type: ignore[arg-type]


def test_a_review_needs_a_title() -> None:
    with pytest.raises(ReviewError, match=r"the-film\.txt: the review has no title"):
        _review(title=" \n\t ")


def test_a_review_needs_an_aware_time() -> None:
    with pytest.raises(ReviewError, match="published time has no timezone"):
        _review(published=datetime(2026, 11, 20, 9, 0))


def test_line_breaks_in_a_title_never_survive() -> None:
    review = _review(title="Evil\r\nBcc: victim@example.org", author="A\nB")
    assert review.title == "Evil Bcc: victim@example.org"
    assert review.author == "A B"


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "file:///etc/passwd", "https://x.org/a b", "/relative/path"]
)
def test_a_link_that_is_not_http_is_dropped(link: str) -> None:
    assert _review(link=link).link is None


def test_the_id_is_stable_across_tracking_parameters_and_schemes() -> None:
    a = _review(link="https://www.reel.example.org/reviews/x/?utm_source=feed#top")
    b = _review(link="http://reel.example.org/reviews/x", source="another source", key="42")
    c = _review(link="https://reel.example.org/reviews/y/")
    assert a.id == b.id != c.id
    assert (
        canonical_link("HTTP://Reel.Example.org/a/?ref=x&p=2") == "https://reel.example.org/a?p=2"
    )


def test_without_a_link_the_id_comes_from_the_source_and_key() -> None:
    assert _review().id == _review(title="Renamed").id
    assert _review().id != _review(key="other.txt").id


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:image/png;base64,xx", "x.jpg"])
def test_an_image_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ReviewError, match="not an absolute http"):
        Image(url=url)
