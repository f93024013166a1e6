"""Gmail clipping, measured where it happens: the HTML part as the SMTP sink receives it."""

from __future__ import annotations

import quopri
import re
from datetime import timedelta
from pathlib import Path

from support.issue20 import twenty_reviews
from support.render_reviews import make_review
from support.smtp import NOW, Sink, record, write_config

from digest.config import load_config
from digest.deliver import SmtpTransport
from digest.period import current_period
from digest.pipeline.run import run_once
from digest.render.compose import render_digest
from digest.render.wire import CLIP_AT, CLIP_BUDGET
from digest.state import db, subscribers

POSTAL = "The Test Reel, Kastanienallee 7, 10435 Berlin, Germany"


def _html_part(data: bytes) -> bytes:
    """The HTML part's body exactly as received: quoted-printable, CRLF line ends."""
    boundary = re.search(rb'boundary="([^"]+)"', data)
    assert boundary is not None
    for part in data.split(b"--" + boundary.group(1)):
        head, _, body = part.partition(b"\r\n\r\n")
        if b"text/html" in head:
            return body.removesuffix(b"\r\n")
    raise AssertionError("no HTML part")


def test_a_trimmed_large_issue_arrives_under_the_budget_with_its_footer(tmp_path: Path) -> None:
    with Sink() as sink:
        smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
        config = load_config(
            write_config(
                tmp_path,
                smtp=smtp,
                newsletter={
                    "title": "The Test Reel",
                    "from": "The Test Reel <news@reel.example.org>",
                    "base_url": "https://reel.example.org",
                    "timezone": "Europe/Berlin",
                    "postal_address": POSTAL,
                },
            )
        )
        conn = db.connect(config.state)
        # The longest values a subscriber can bring: a 200-character name of 4-byte
        # characters (12 bytes each once quoted-printable) and one of quotes (&quot;).
        subscribers._import_rows(conn, [
            {"email": "plain@example.net", "name": "Ann"},
            {"email": "wide@example.net", "name": "\U0001f3ac" * 250},
            {"email": "quotes@example.net", "name": '"' * 250},
        ])  # fmt: skip
        conn.close()
        reviews = tuple(
            make_review(
                f"Review number {i}",
                overview=f"Summary {i}: " + "a reasonably long sentence about the film " * 8,
                grade="A+" if i == 0 else "B",
                published=NOW - timedelta(hours=i + 1),
            )
            for i in range(60)
        )
        rendered = render_digest(config, current_period(config, NOW), reviews, now=NOW)
        assert 10 < len(rendered.reviews) < 60  # trimmed
        record(config, rendered)
        assert config.smtp is not None
        assert run_once(config, now=NOW, transport=SmtpTransport(config.smtp)).sent == 3
        received = sink.received
    assert len(received) == 3
    sizes = {}
    for r in received:
        encoded = _html_part(r.data)
        sizes[r.rcpt_tos[0]] = len(encoded)
        assert len(encoded) <= CLIP_BUDGET < CLIP_AT
        # The footer is inside the measured bytes: the unsubscribe link and the postal line.
        html = quopri.decodestring(encoded).decode("utf-8")
        token = re.search(r"/unsubscribe/([A-Za-z0-9_-]+)", html)
        assert token is not None and len(token.group(1)) == 43
        assert html.rstrip().endswith("</html>")
        assert POSTAL in html and html.index(POSTAL) > html.index("more reviews on the site")
    # The decoded HTML is well under the budget; the wire bytes are what the guard counts.
    assert len(rendered.html.encode()) < min(sizes.values()) - 4_000
    assert sizes["wide@example.net"] > sizes["plain@example.net"] + 2_000


def test_the_twenty_review_design_arrives_whole_under_the_budget(tmp_path: Path) -> None:
    """The hero, at a glance and 19 compact cards with pictures of every shape, bylines and
    verdicts: all 20 reviews fit, as received, for the subscriber with the longest name."""
    with Sink() as sink:
        smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
        config = load_config(write_config(tmp_path, smtp=smtp))
        conn = db.connect(config.state)
        subscribers._import_rows(conn, [{"email": "wide@example.net", "name": "\U0001f3ac" * 250}])
        conn.close()
        reviews = twenty_reviews(lambda slug, w, h: f"https://images.reel.example.org/{slug}.jpg")
        rendered = render_digest(config, current_period(config, NOW), reviews, now=NOW)
        assert len(rendered.reviews) == 20 and not rendered.warnings
        record(config, rendered)
        assert config.smtp is not None
        assert run_once(config, now=NOW, transport=SmtpTransport(config.smtp)).sent == 1
        (received,) = sink.received
    encoded = _html_part(received.data)
    assert len(encoded) <= CLIP_BUDGET
    html = quopri.decodestring(encoded).decode("utf-8")
    assert all(f'id="r-{r.id}"' in html for r in reviews)
    assert "Hello " + "\U0001f3ac" * 200 + "," in html  # the greeting, its name capped at 200
    assert html.rstrip().endswith("</html>") and "/unsubscribe/" in html
