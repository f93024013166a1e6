"""The editor's note in a sent issue: Markdown rendered and sanitised at the top of the HTML
part, its own words at the top of the text part, and a note left from an earlier issue linted."""

from __future__ import annotations

import mailbox
from datetime import timedelta
from email.message import Message
from pathlib import Path

import lxml.html
from support.clock import MIDWEEK, NOW
from support.scheduling import add_subscribers, write_config, write_reviews

from digest.pipeline.issue import look_at_issue
from digest.pipeline.run import run_once

HOSTILE = """\
# Festival week

Three premieres. <iframe src="https://evil.example/"></iframe>
[click](javascript:alert(1)) <a href="https://evil.example/" onclick="x()">raw</a>
{{ name }} {% raw %}dgst0123456789abcdefunsub
"""


def parts(message: Message) -> tuple[str, str]:
    text, html = message.get_payload()  # type: ignore[misc]
    return text.get_payload(decode=True).decode(), html.get_payload(decode=True).decode()


def test_a_sent_issue_carries_the_note_safely_in_both_parts(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (title,) = write_reviews(config, [MIDWEEK - timedelta(days=1)])
    (config.folder / "notes").mkdir()
    (config.folder / "notes" / "2026-W48.md").write_text(HOSTILE, encoding="utf-8")
    add_subscribers(config, 1)
    result = run_once(config, now=MIDWEEK)
    assert result.outcome == "sent"
    (message,) = list(mailbox.Maildir(config.outbox, create=False))
    text, html = parts(message)
    assert "<h2>Festival week</h2>" in html  # the masthead keeps the one h1
    cards = html.index('class="pick-label')  # the first card (the subject names the title earlier)
    assert "Three premieres." in html and html.index("Festival week") < cards
    tree = lxml.html.fromstring(html)
    assert not tree.xpath("//iframe | //script | //*[@onclick]")
    hrefs = tree.xpath("//a/@href")
    assert not [h for h in hrefs if h.startswith("javascript") or "evil.example" in h]
    assert "&lt;iframe" in html  # typed HTML is shown as text, never parsed
    assert "{{ name }}" in html  # template syntax in a note is text too
    assert "dgst0123456789abcdefunsub" not in html + text  # no marker look-alike survives
    assert "# Festival week" in text and text.index("Festival week") < text.index(title)


def test_a_note_left_from_an_earlier_issue_is_linted(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_reviews(config, [NOW + timedelta(days=1)])
    (config.folder / "notes").mkdir()
    (config.folder / "notes" / "2026-W47.md").write_text("Last week's intro.\n", "utf-8")
    built = look_at_issue(config, now=MIDWEEK)
    assert built.rendered is not None
    assert (
        "note: 2026-W47.md is for an earlier issue (2026-W47) and is not in 2026-W48; rename it "
        "to 2026-W48.md if it is this issue's, or delete it"
    ) in built.rendered.warnings
    assert "Last week" not in built.rendered.html
