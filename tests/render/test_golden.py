"""Golden tests: the exact plain-text part and the structure of the HTML for fixed reviews.

Regenerate the golden files after an intended template change with
``DIGEST_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from support.render_reviews import NOW, make_config, sample_reviews, week_period

from digest.models import RenderedDigest
from digest.pipeline.issue import look_at_issue
from digest.render.compose import render_digest

GOLDEN = Path(__file__).parent / "golden"
BUNDLED_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "reviews"
BAND_COLOURS = {"A": "#116329", "B": "#0550ae", "C": "#f2cc60", "D": "#bc4c00", "F": "#a40e26"}


def scrub(rendered: RenderedDigest, text: str) -> str:
    """Replace the per-render markers (random nonces) with stable placeholders."""
    markers = rendered.markers
    text = text.replace(markers.unsubscribe_url, "{UNSUBSCRIBE_URL}")
    return text.replace(markers.name, "{NAME}").replace(markers.greeting, "{GREETING}")


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with DIGEST_UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedDigest:
    config = make_config(tmp_path_factory.mktemp("golden"))
    return render_digest(config, week_period(), sample_reviews(), now=NOW)


def test_text_part_matches_golden(rendered: RenderedDigest) -> None:
    check_golden("fixtures.txt", scrub(rendered, rendered.text))


def test_quiet_week_text_matches_golden(tmp_path: Path) -> None:
    rendered = render_digest(make_config(tmp_path), week_period(), (), now=NOW)
    check_golden("quiet.txt", scrub(rendered, rendered.text))


def test_subject_and_preheader(rendered: RenderedDigest) -> None:
    assert rendered.subject == "The Lantern Keepers (A) and 5 more reviews this week"
    assert rendered.preheader == "6 reviews from The Night Shift"
    assert rendered.warnings == ()


def test_html_structure(rendered: RenderedDigest) -> None:
    html = rendered.html
    assert html.startswith("<!doctype html>")
    doc = lxml.html.document_fromstring(html)
    assert doc.findtext(".//title") == rendered.subject
    assert rendered.preheader in doc.text_content()
    cards = doc.find_class("card")
    given = sample_reviews()
    best = max(given, key=lambda r: r.grade.rank if r.grade else 0)
    expected = [best, *(r for r in given if r is not best)]
    assert len(cards) == len(expected) == 6
    # The pick is the hero, with its label; the others are compact cards.
    assert {"pick", "hero"} <= set(cards[0].get("class", "").split())
    assert "Pick of the week" in cards[0].text_content()
    assert all("cc" in c.get("class", "").split() for c in cards[1:])
    for n, (card, review) in enumerate(zip(cards, expected, strict=True)):
        assert review.image is not None and review.grade is not None and review.facts is not None
        (title,) = card.find_class("card-title")
        (link,) = title.iter("a")
        assert link.text_content() == review.title
        assert link.get("href") == review.link
        size = "26px" if n == 0 else "18px"
        assert f"font-size:{size}" in title.get("style", "").replace(" ", "")  # inlined
        (img,) = card.iter("img")
        assert img.get("src") == review.image.url
        assert img.get("alt") == review.image.alt
        # 1200 × 675 fits the hero's 600 × 338 frame and the thumbnails' 120 × 90.
        assert (img.get("width"), img.get("height")) == (
            ("600", "338") if n == 0 else ("120", "68")
        )
        assert f"Image: {review.image.credit}" in card.text_content()
        (badge,) = card.find_class("badge")
        word = {"A": "Great", "B": "Good", "C": "Mixed", "D": "Poor", "F": "Bad"}
        letter = review.grade.letter.replace("-", "\u2212")
        assert badge.text_content() == f"{letter} {word[review.grade.band]}"
        assert badge.get("bgcolor") == BAND_COLOURS[review.grade.band]
        assert f"By {review.author}" in card.find_class("meta")[0].text_content()
        assert card.find_class("facts")[0].text_content() == review.facts.raw.rstrip(".").replace(
            "; ", " · "
        )
        overview = card.find_class("card-overview")[0].text_content()
        assert overview.replace("…", "").split()[:8] == review.overview.split()[:8]
        ctas = [a for a in card.iter("a") if a.text_content().strip() == "Read the review\xa0→"]
        assert [a.get("href") for a in ctas] == [review.link]
    # At a glance: every card, linking to it by its id.
    glance = doc.find_class("gl")[0]
    targets = [a.get("href") for a in glance.iter("a")]
    assert targets == ["#" + c.get("id") for c in [*cards[0].find_class("hero-anchor"), *cards[1:]]]
    footer = {a.text_content().strip(): a.get("href") for a in doc.iter("a")}
    assert footer["View this issue in your browser"] == (
        "https://nightshift.example.org/issues/2026-W48"
    )
    assert footer["Past issues"] == "https://nightshift.example.org/issues"
    assert footer["Unsubscribe"] == rendered.markers.unsubscribe_url
    assert "Kastanienallee 7, 10435 Berlin" in doc.text_content()
    (greeting,) = doc.find_class("greeting")
    assert greeting.text_content() == rendered.markers.greeting
    assert rendered.markers.name not in html
    assert "16–23 November 2026" in doc.text_content()


def test_html_keeps_what_mail_clients_need(rendered: RenderedDigest) -> None:
    html = rendered.html
    # Outlook: MJML's conditional comments survive premailer.
    assert "<!--[if mso | IE]>" in html and "<![endif]-->" in html
    # Phones: the responsive rules keep their !important; one column under 480 px.
    assert "@media only screen and (min-width:480px)" in html
    assert ".mj-column-per-100 { width:100% !important;" in html
    # Dark mode: the meta tag and the rules, !important intact.
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert "background-color: #161b22 !important" in html
    assert "@media only screen and (max-width:479px)" in html  # the compact cards on phones
    # Nothing to fetch, nothing to run.
    for absent in ("<script", "<link", "@import", "fonts.googleapis", "mj-style", "<mj-"):
        assert absent not in html


def test_text_part_of_bundled_samples_matches_golden(tmp_path: Path) -> None:
    """The bundled samples, dated one day before NOW, give the golden text part."""
    folder = tmp_path / "reviews"
    shutil.copytree(BUNDLED_SAMPLES, folder)
    stamp = (NOW - timedelta(days=1)).timestamp()
    for path in folder.iterdir():
        os.utime(path, (stamp, stamp))
    config = make_config(tmp_path, "selection: {days: 7, max_reviews: 20, order: grade}\n")
    built = look_at_issue(config, now=NOW)
    assert built.rendered is not None
    assert not built.collection.problems
    assert len(built.rendered.reviews) >= 10
    check_golden("bundled-samples.txt", scrub(built.rendered, built.rendered.text))


def test_a_picture_narrower_than_the_card_is_not_stretched(tmp_path: Path) -> None:
    import dataclasses

    given = sample_reviews()
    best = max(given, key=lambda r: r.grade.rank if r.grade else 0)  # the hero
    assert best.image is not None
    narrow = dataclasses.replace(best.image, width=460, height=259)
    reviews = tuple(dataclasses.replace(r, image=narrow) if r is best else r for r in given)
    rendered = render_digest(make_config(tmp_path), week_period(), reviews, now=NOW)
    doc = lxml.html.document_fromstring(rendered.html)
    (img,) = [i for i in doc.iter("img") if i.get("src") == narrow.url]
    assert (img.get("width"), img.get("height")) == ("460", "259")  # in the 600 × 338 hero frame
