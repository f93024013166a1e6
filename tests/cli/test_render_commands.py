"""``digest build`` and ``digest preview`` end to end: real files, real loopback HTTP."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lxml.html
import pytest
from click.testing import CliRunner
from support.browser import serve_app
from support.feeds import NOW as FEED_NOW
from support.feeds import rss, rss_item
from support.http import serving, write_config
from support.render_reviews import CONFIG_YAML, write_review_files

from digest.cli import cli
from digest.config import load_config
from digest.models import Period
from digest.pipeline.issue import look_at_issue
from digest.state.db import connect
from digest.state.ledger import record_issue
from digest.web import preview
from digest.web.preview import create_preview_app


def publication(tmp_path: Path, extra: str = "") -> Path:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML + extra, encoding="utf-8")
    return config


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_build_writes_html_text_and_a_complete_message(tmp_path: Path) -> None:
    config = publication(tmp_path)
    out = tmp_path / "out"
    code, output = run(config, "build", "--out", str(out))
    assert code == 0, output
    assert "6 reviews · subject: The Lantern Keepers (A) and 5 more reviews this week" in output
    assert "lint: no findings" in output
    # Both sizes of the HTML part: decoded, and as sent (quoted-printable, longest recipient).
    sizes = re.search(r"lint: size: HTML part ([\d.]+) KB decoded, ([\d.]+) KB as sent", output)
    assert sizes is not None and float(sizes.group(1)) < float(sizes.group(2)) < 96
    html = (out / "digest.html").read_text(encoding="utf-8")
    text = (out / "digest.txt").read_text(encoding="utf-8")
    assert len(lxml.html.document_fromstring(html).find_class("card")) == 6
    assert "Unsubscribe: https://nightshift.example.org/unsubscribe\n" in text
    assert "dgst" not in html + text  # every marker was replaced
    message = email.message_from_bytes(
        (out / "digest.eml").read_bytes(), policy=email.policy.default
    )
    assert message["From"] == "The Night Shift <letters@nightshift.example.org>"
    assert message["To"] == "preview@example.invalid"
    assert message["Reply-To"] == "editor@nightshift.example.org"
    assert message["Subject"] == "The Lantern Keepers (A) and 5 more reviews this week"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"] and message["Message-ID"] and message["List-Id"]
    assert "https://nightshift.example.org/unsubscribe/preview" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    assert "6 new reviews this week." in plain.get_content()
    assert "Hello" not in plain.get_content()  # a nameless reader: no greeting line
    assert "The Lantern Keepers" in rich.get_content()


def test_build_says_clearly_when_there_is_nothing_to_send(tmp_path: Path) -> None:
    (tmp_path / "reviews").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")
    out = tmp_path / "out"
    code, output = run(config, "build", "--out", str(out))
    assert code == 0
    assert "no new reviews for 20" in output
    assert "nothing to send (set newsletter.quiet_week: true to send a short note instead)" in (
        " ".join(output.split())
    )
    assert not out.exists()


def test_build_sends_the_quiet_week_note_when_configured(tmp_path: Path) -> None:
    (tmp_path / "reviews").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML.replace("  timezone:", "  quiet_week: true\n  timezone:"))
    out = tmp_path / "out"
    code, output = run(config, "build", "--out", str(out))
    assert code == 0, output
    assert "No new reviews this week" in (out / "digest.txt").read_text()
    assert "the digest has no reviews" in output


def test_preview_serves_html_text_and_phone_and_rerenders_on_change(tmp_path: Path) -> None:
    config = publication(tmp_path)
    own = tmp_path / "templates"
    own.mkdir()
    app = create_preview_app(config)
    with serve_app(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        first = client.get("/")
        assert first.status_code == 200
        assert len(lxml.html.document_fromstring(first.text).find_class("card")) == 6
        assert "script-src 'none'" in first.headers["content-security-policy"]
        text = client.get("/text")
        assert "<pre>The Night Shift" in text.text and "6 new reviews this week" in text.text
        assert "Hello" not in text.text
        phone = client.get("/phone")
        frame = lxml.html.document_fromstring(phone.text).find(".//iframe")
        assert frame is not None and frame.get("src") == "/" and "375px" in frame.get("style")
        renders = app.state.previewer.renders
        client.get("/")
        assert app.state.previewer.renders == renders  # nothing changed, nothing re-rendered

        # A new template in the publication's folder takes over at once.
        (own / "digest.txt.j2").write_text("Custom text part for {{ newsletter.title }}\n")
        config.write_text(config.read_text() + "templates: templates/\n")
        assert client.get("/text").text.count("Custom text part for The Night Shift") == 1

        # A new review file appears; a config edit shows up.
        (tmp_path / "reviews" / "new.txt").write_text(
            "Title: Late Arrival\nLink: https://nightshift.example.org/reviews/late/\n\n"
            "Overview: A film that turns up after the digest was planned. Kite; 2026; 12; 90 min."
            "\n\nRating: B\n"
        )
        assert "Late Arrival" in client.get("/").text
        config.write_text(config.read_text().replace("The Night Shift", "The Day Shift"))
        assert "The Day Shift" in client.get("/").text

        # A broken template is shown as an error page, and the preview keeps running.
        (own / "digest.mjml.j2").write_text("{% if %}")
        broken = client.get("/")
        assert broken.status_code == 500
        assert "digest.mjml.j2:1: template syntax error" in broken.text
        (own / "digest.mjml.j2").unlink()
        assert client.get("/").status_code == 200


def test_build_leaves_out_reviews_already_sent_in_an_earlier_issue(tmp_path: Path) -> None:
    config_path = publication(tmp_path, "state: state.sqlite3\n")
    config = load_config(config_path)
    when = datetime.now(UTC)
    first = look_at_issue(config, now=when)
    assert first.rendered is not None and len(first.rendered.reviews) == 6
    earlier = dataclasses.replace(
        first.rendered,
        period=Period("2026-W01", when - timedelta(days=30), when - timedelta(days=23)),
        reviews=first.rendered.reviews[:2],
    )
    conn = connect(config.state)
    record_issue(conn, earlier, now=when, path=config.state)
    conn.close()
    again = look_at_issue(config, now=when)
    assert again.rendered is not None
    assert {r.id for r in again.rendered.reviews} == {r.id for r in first.rendered.reviews[2:]}
    assert {s.title for s in again.selected.skipped if "already sent" in s.reason} == {
        r.title for r in first.rendered.reviews[:2]
    }


def test_preview_refetches_feeds_only_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving() as server:
        server.route("/feed.xml", body=rss(rss_item()), headers={"Content-Type": "text/xml"})
        config = write_config(
            tmp_path, [{"type": "feed", "url": server.url("/feed.xml"), "allow_private": True}]
        )
        own = tmp_path / "templates"
        own.mkdir()
        config.write_text(config.read_text() + "templates: templates/\n")
        app = create_preview_app(config, clock=lambda: FEED_NOW)
        with serve_app(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            assert "Harbour Lights" in client.get("/").text
            assert len(server.requests_to("/feed.xml")) == 1
            # A template edit re-renders from the feed already fetched.
            (own / "digest.txt.j2").write_text("Edited: {{ reviews[0].title }}\n")
            assert "Edited: Harbour Lights" in client.get("/text").text
            assert len(server.requests_to("/feed.xml")) == 1
            # Once the feeds are stale, the next request fetches them again.
            monkeypatch.setattr(preview, "RECOLLECT_AFTER", 0.0)
            assert client.get("/").status_code == 200
            assert len(server.requests_to("/feed.xml")) == 2
