"""The inbox preview line (preheader and its filler) and the period label in the masthead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import lxml.html
from support.render_reviews import NOW, make_config, make_review, sample_reviews, week_period

from digest.collect.collection import Collection
from digest.models import Period
from digest.pipeline.issue import prepare_issue
from digest.render.compose import render_digest
from digest.state import db, ledger

FILLER = "\u034f\u200c\u00a0"  # &#847;&zwnj;&nbsp;


def _masthead_label(html: str) -> str:
    doc = lxml.html.document_fromstring(html)
    return str(doc.find_class("muted")[0].text_content().strip())


def test_the_preheader_comes_first_hidden_without_a_colour_then_filler(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    doc = lxml.html.document_fromstring(rendered.html)
    body_text = doc.body.text_content().lstrip()
    # The first text in the body: the preheader, then at least 50 filler runs, so a preview
    # (Gmail shows ~100 characters, Apple Mail up to ~140) never runs on into the masthead.
    assert body_text.startswith(rendered.preheader + FILLER * 50)
    (pre,) = doc.find_class("preheader")
    style = pre.get("style", "").replace(" ", "")
    assert "display:none" in style and "mso-hide:all" in style
    # No colour of its own (MJML's mj-preview writes #ffffff: HTML_FONT_LOW_CONTRAST).
    assert "color" not in style and "mj-preview" not in rendered.html


def test_the_quiet_week_note_has_the_preview_line_too(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = render_digest(config, week_period(), (), now=NOW)
    doc = lxml.html.document_fromstring(rendered.html)
    assert doc.body.text_content().lstrip().startswith(rendered.preheader + FILLER)


def test_the_label_names_the_days_the_window_really_covers(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    reviews = sample_reviews()
    week = week_period()  # Monday 16 November 08:00 → Monday 23 November 08:00, Berlin
    assert _masthead_label(render_digest(config, week, reviews, now=NOW).html) == (
        "16–23 November 2026"
    )
    # Ending at midnight: the 23rd is not covered at all, so it is not named.
    midnight = Period(key=week.key, start=week.start, end=week.end.replace(hour=0))
    assert _masthead_label(render_digest(config, midnight, reviews, now=NOW).html) == (
        "16–22 November 2026"
    )
    # Reaching back for what the previous issue left out widens the label to match: the
    # ledger holds last week's issue, so this one reaches back to its start.
    before = Period("2026-W47", week.start - timedelta(days=7), week.start)
    shown = make_review("Shown Last Week", published=before.start + timedelta(days=1))
    conn = db.connect(config.state)
    earlier = render_digest(config, before, (shown,), now=before.end)
    ledger.record_issue(conn, earlier, now=before.end, path=config.state)
    late = make_review("Left Over", published=week.start - timedelta(days=3))
    collection = Collection(reviews=(*reviews, late, shown), problems=(), skipped=())
    prepared = prepare_issue(config, week, now=NOW, conn=conn, collection=collection)
    conn.close()
    selected, rendered = prepared.selected, prepared.rendered
    assert rendered is not None and selected is not None
    assert late in selected.reviews and shown not in selected.reviews
    assert _masthead_label(rendered.html) == "9–23 November 2026"
    assert rendered.period == week  # the issue's own period (and key) is unchanged
