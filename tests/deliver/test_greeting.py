"""The greeting, as each reader receives it: the first name when known, else no line at all.

Subscribers come from a real CSV import (the ``first_name`` column lands in ``extra``), the
issue is rendered with the bundled templates and sent into the Maildir outbox.
"""

from __future__ import annotations

import mailbox
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from support.issue20 import twenty_reviews
from support.smtp import NOW, record, write_config

from digest.config import load_config
from digest.deliver.message import greeting_for
from digest.period import current_period
from digest.pipeline.run import run_once
from digest.render.compose import render_digest
from digest.state import db, subscribers

CSV = (
    "email,name,first_name\n"
    "ada@example.org,Ada Lumen,\n"
    "bob@example.org,Dr Robert Quist,Bob\n"
    "nameless@example.org,,\n"
    'html@example.org,"<b>Zoë</b> & Co",\n'
)


def _received(tmp_path: Path) -> dict[str, tuple[str, str]]:
    config = load_config(write_config(tmp_path))
    csv = tmp_path / "subscribers.csv"
    csv.write_text(CSV, encoding="utf-8")
    conn = db.connect(config.state)
    try:
        subscribers.import_csv(conn, csv)
    finally:
        conn.close()
    reviews = twenty_reviews(lambda slug, w, h: f"https://images.reel.example.org/{slug}.jpg")
    record(config, render_digest(config, current_period(config, NOW), reviews, now=NOW))
    assert run_once(config, now=NOW).sent == 4
    parts = {}
    for data in (m.as_bytes() for m in mailbox.Maildir(config.outbox, create=False)):
        msg = message_from_bytes(data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        parts[str(msg["To"])] = (text.get_content(), html.get_content())
    return parts


def test_each_reader_is_greeted_by_first_name_or_not_at_all(tmp_path: Path) -> None:
    parts = _received(tmp_path)
    intro = "20 new reviews this week."
    for address, greeting in (
        ("ada@example.org", "Hello Ada,"),  # the first word of the name
        ("bob@example.org", "Hello Bob,"),  # the import file's first_name column
    ):
        text, html = parts[address]
        assert f"\n\n{greeting}\n\n{intro}\n" in text.replace("\r\n", "\n")
        assert re.search(f'<p class="greeting"[^>]*>{greeting}</p>', html), address
        assert "Lumen" not in text.split(intro)[0] and "Robert" not in html
    text, html = parts["nameless@example.org"]
    # No name: no greeting line, no "Hello reader," and no blank line left in its place.
    assert "Hello" not in text and "Hello" not in html and "reader," not in html
    assert f"November 2026\n\n{intro}\n" in text.replace("\r\n", "\n")
    text, html = parts["html@example.org"]
    assert "Hello &lt;b&gt;Zoë&lt;/b&gt;," in html and "<b>Zoë" not in html
    assert "Hello <b>Zoë</b>," in text  # the text part is plain text


def test_greeting_for() -> None:
    assert greeting_for("Ada Lumen") == "Hello Ada,"
    assert greeting_for("Ada Lumen", "  Addie ") == "Hello Addie,"
    assert greeting_for("") == greeting_for("   ") == ""
