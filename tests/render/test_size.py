"""Gmail clipping (trim the list, keep the footer), the quiet week, and the pre-send lint."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from support.render_reviews import NOW, make_config, make_review, sample_reviews, week_period

from digest.models import RenderedDigest
from digest.render.compose import TRIM_AT, neutral_html, neutral_text, render_digest
from digest.render.lint import WARN_AT, lint
from digest.render.wire import html_part_size


def test_two_hundred_reviews_are_trimmed_so_the_footer_is_never_clipped(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    reviews = tuple(
        make_review(
            f"Review number {i}",
            overview=f"Summary {i}: " + "a reasonably long sentence about the film " * 8,
            grade="A+" if i == 199 else "B",
            published=NOW - timedelta(hours=i),
        )
        for i in range(200)
    )
    rendered = render_digest(config, week_period(), reviews, now=NOW)
    # Measured as sent: quoted-printable, the longest recipient values in place.
    size = html_part_size(rendered.html, rendered.markers, config.newsletter.base_url)
    assert len(rendered.html.encode()) < size <= TRIM_AT
    shown = len(rendered.reviews)
    assert 10 < shown < 200
    # The pick (the only A+, last in the list) leads and survives; the rest are cut at the end.
    assert rendered.reviews == (reviews[-1], *reviews[: shown - 1])
    # Trimming is not wasteful: one more card would not have fitted (within one card's size).
    per_card = size / shown
    assert size > TRIM_AT - 2 * per_card
    doc = lxml.html.document_fromstring(rendered.html)
    assert len(doc.find_class("card")) == shown + 1  # the cards and the "more" card
    more = [a for a in doc.iter("a") if "more reviews on the site" in a.text_content()]
    assert [a.text_content() for a in more] == [f"{200 - shown} more reviews on the site"]
    assert more[0].get("href") == "https://nightshift.example.org"
    # The footer (unsubscribe link, postal line) is there, at the end, in both parts.
    assert rendered.html.rfind(rendered.markers.unsubscribe_url) > rendered.html.rfind("more rev")
    assert "Kastanienallee 7" in rendered.html
    assert f"{200 - shown} more reviews on the site: https://nightshift" in rendered.text
    assert rendered.text.rstrip().endswith("10435 Berlin, Germany")
    assert any(w.startswith(f"trimmed to {shown} of 200 reviews") for w in rendered.warnings)


def test_lint_warns_past_90_kb(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    assert not any("KB" in w for w in lint(rendered))
    padded = rendered.html.replace("</body>", "<p>" + "x" * WARN_AT + "</p></body>")
    warnings = lint(dataclasses.replace(rendered, html=padded))
    assert any("Gmail clips" in w for w in warnings)


def test_quiet_week_note(tmp_path: Path) -> None:
    config = make_config(tmp_path, "")
    rendered = render_digest(config, week_period(), (), now=NOW)
    assert "No new reviews this week" in rendered.text
    assert "No new reviews this week" in lxml.html.document_fromstring(rendered.html).text_content()
    assert rendered.markers.unsubscribe_url in rendered.html
    assert rendered.markers.unsubscribe_url in rendered.text
    assert rendered.subject == "The Night Shift"
    assert rendered.preheader == "0 reviews from The Night Shift"
    assert rendered.warnings == ("the digest has no reviews (only the quiet-week note)",)


def test_neutral_copies_have_placeholder_recipient_values(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    html = neutral_html(rendered, "https://nightshift.example.org")
    text = neutral_text(rendered, "https://nightshift.example.org")
    for part in (html, text):
        assert rendered.markers.unsubscribe_url not in part
        assert rendered.markers.name not in part
        assert rendered.markers.greeting not in part
        assert "Hello" not in part  # the archive copy greets no one
    doc = lxml.html.document_fromstring(html)
    links = {a.text_content(): a.get("href") for a in doc.iter("a")}
    assert links["Unsubscribe"] == "https://nightshift.example.org/unsubscribe"


def test_an_issue_stored_before_the_greeting_marker_greets_no_one_in_the_archive(
    tmp_path: Path,
) -> None:
    """Issues rendered by the templates before issue 15 opened "Hello <name>, here are …"."""
    config = make_config(tmp_path)
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    old = dataclasses.replace(rendered.markers, greeting="")
    html = f"<p>Hello {old.name}, here are 6 new reviews.</p><a href='{old.unsubscribe_url}'>x</a>"
    text = f"Hello {old.name}, here are 6 new reviews.\n{old.unsubscribe_url}\n"
    stored = dataclasses.replace(rendered, html=html, text=text, markers=old)
    assert "<p>Here are 6 new reviews.</p>" in neutral_html(stored, "https://n.example.org")
    assert neutral_text(stored, "https://n.example.org").startswith("Here are 6 new reviews.")


# ---------------------------------------------------------------------------------------------
# Lint findings on hand-made messages
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> RenderedDigest:
    config = make_config(tmp_path_factory.mktemp("lint"))
    return render_digest(config, week_period(), sample_reviews(), now=NOW)


def test_a_good_digest_has_no_findings(good: RenderedDigest) -> None:
    assert lint(good) == ()


def test_lint_finds_images_without_alt_and_insecure_urls(good: RenderedDigest) -> None:
    html = good.html.replace(
        "</body>",
        '<img src="https://x.example/a.png"><img src="http://x.example/b.png" alt="b">'
        '<a href="http://x.example/c">c</a><div style="background:url(http://x.example/d.png)">'
        "</div></body>",
    )
    found = "\n".join(lint(dataclasses.replace(good, html=html)))
    assert "image https://x.example/a.png has no alt text" in found
    assert "image https://x.example/a.png has no numeric width and height" in found
    assert "<img src=http://x.example/b.png> is not https" in found
    assert "<a href=http://x.example/c> is not https" in found
    assert "CSS url(http://x.example/d.png) is not https" in found


def test_lint_finds_reviews_missing_grade_or_overview(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    reviews = (*sample_reviews(), make_review("Bare", overview="", grade=None))
    found = render_digest(config, week_period(), reviews, now=NOW).warnings
    assert "'Bare' has no grade or overview" in found


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("", "the plain-text part is empty"),
        ("   \n", "the plain-text part is empty"),
        ("<html><body>oops</body></html>", "contains HTML tags"),
        ("broken \x00 bytes \ufffd", "control or replacement characters"),
        ("no link at all", "has no unsubscribe link"),
    ],
)
def test_lint_finds_a_broken_text_part(good: RenderedDigest, text: str, finding: str) -> None:
    assert any(finding in w for w in lint(dataclasses.replace(good, text=text)))


def test_lint_finds_a_text_part_missing_reviews_and_html_missing_unsubscribe(
    good: RenderedDigest,
) -> None:
    text = good.text.replace("Paper Moons", "P. M.")
    html = good.html.replace(good.markers.unsubscribe_url, "https://nightshift.example.org/")
    found = lint(dataclasses.replace(good, text=text, html=html))
    assert "the plain-text part does not mention 'Paper Moons'" in found
    assert any("the HTML has no unsubscribe link" in w for w in found)


def test_lint_finds_an_empty_digest_and_a_lost_doctype(good: RenderedDigest) -> None:
    found = lint(
        dataclasses.replace(good, reviews=(), html=good.html.removeprefix("<!doctype html>"))
    )
    assert "the digest has no reviews (only the quiet-week note)" in found
    assert any("no doctype" in w for w in found)
