"""The message is built once and personalised by substitution: prove the bytes are right."""

from __future__ import annotations

import base64
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.smtp import NOW, rendered_digest, write_config

from digest.config import load_config
from digest.deliver.message import MessageTemplate, Recipient, clean_subject
from digest.errors import RecipientError


def _template(tmp_path: Path, *, newsletter: dict[str, Any] | None = None, nonce: str = "",
              **kw: str) -> MessageTemplate:  # fmt: skip
    path = write_config(tmp_path)
    if newsletter:
        data = yaml.safe_load(path.read_text())
        data["newsletter"].update(newsletter)
        path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    r = rendered_digest(config, **kw)
    return MessageTemplate(
        config=config,
        issue_key=r.period.key,
        subject=r.subject,
        html_body=r.html,
        text_body=r.text,
        markers=r.markers,
        date=NOW,
        nonce=nonce,
    )


def _parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_each_copy_carries_its_own_link_name_and_headers(tmp_path: Path) -> None:
    t = _template(tmp_path)
    a = _parse(t.render(Recipient("ann@example.org", "Ann", "tokA_1")))
    b = _parse(t.render(Recipient("bob@example.net", "", "tokB-2")))
    for msg, addr, token, name in (
        (a, "ann@example.org", "tokA_1", "Ann"),
        (b, "bob@example.net", "tokB-2", "reader"),
    ):
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert msg["To"] == addr
        url = f"https://reel.example.org/unsubscribe/{token}"
        text, html = _parts(msg)
        assert text.count(url) == 1 and html.count(url) == 1
        assert f"Hello {name}," in text and f"Hello {name}," in html
        # https only: nothing reads the From mailbox yet (newsletter.unsubscribe_mailto: false)
        assert msg["List-Unsubscribe"] == f"<{url}>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["List-Id"] == '"The Test Reel" <the-test-reel.reel.example.org>'
        assert msg["List-Archive"] == "<https://reel.example.org/issues>"
        assert msg["List-Help"] == "<mailto:editor@reel.example.org?subject=help>"
        assert msg["Precedence"] == "bulk" and msg["Auto-Submitted"] == "auto-generated"
        assert msg["Feedback-ID"] == "2026-W48:the-test-reel:digest:reel.example.org"
        assert msg["From"] == "The Test Reel <news@reel.example.org>"
        assert msg["Reply-To"] == "editor@reel.example.org"
        assert msg["MIME-Version"] == "1.0" and msg["Date"]
        assert "Caf\u00e9 cr\u00e8me" in text and "\u201cquoted\u201d" in html
        assert "\n.a line that starts with a dot" in text
    # No marker survives, and the other recipient's token never appears.
    assert b"dgst" not in t.render(Recipient("ann@example.org", "Ann", "tokA_1"))
    assert "tokB-2" not in a.as_string()


def test_message_id_is_deterministic_per_issue_and_recipient(tmp_path: Path) -> None:
    t = _template(tmp_path)
    first = _parse(t.render(Recipient("ann@example.org", "Ann", "tok")))["Message-ID"]
    again = _parse(t.render(Recipient("ann@example.org", "Ann", "tok")))["Message-ID"]
    other = _parse(t.render(Recipient("bob@example.org", "Bob", "tok")))["Message-ID"]
    assert first == again != other
    assert re.fullmatch(r"<2026-W48\.[0-9a-f]{24}@reel\.example\.org>", first)


def test_mailto_unsubscribe_only_when_switched_on(tmp_path: Path) -> None:
    t = _template(tmp_path, newsletter={"unsubscribe_mailto": True})
    msg = _parse(t.render(Recipient("ann@example.org", "Ann", "tokA_1")))
    assert msg["List-Unsubscribe"] == (
        "<mailto:news@reel.example.org?subject=unsubscribe-tokA_1>, "
        "<https://reel.example.org/unsubscribe/tokA_1>"
    )


def test_no_list_help_without_a_reply_to_mailbox(tmp_path: Path) -> None:
    t = _template(tmp_path, newsletter={"reply_to": None})
    msg = _parse(t.render(Recipient("ann@example.org", "Ann", "tokA_1")))
    assert msg["List-Help"] is None and msg["Reply-To"] is None


def test_long_and_hostile_values_never_break_the_encoding(tmp_path: Path) -> None:
    # A name far past the 76-character QP line limit, with markup and non-ASCII, and an HTML
    # body whose long line puts the slot at every possible offset of a soft line break.
    name = "Zo\u00eb <script>alert(1)</script> & " + "\u00e9" * 150
    for pad in range(0, 80, 7):
        t = _template(tmp_path, html_extra="<p>" + "y" * pad + "</p>")
        data = t.render(Recipient("zoe@example.org", name, "t" * 43))
        assert max(len(line) for line in data.split(b"\r\n")) <= 998
        body_lines = data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
        assert max(len(line) for line in body_lines) <= 76
        assert data.isascii()
        text, html = _parts(_parse(data))
        assert f"Hello {name}," in text
        assert "Hello Zo\u00eb &lt;script&gt;alert(1)&lt;/script&gt; &amp; " in html
        assert "<script>" not in html


@pytest.mark.parametrize(
    "title",
    [
        "Bad\r\nBcc: victim@example.com",
        "Bad\nBcc: victim@example.com",
        "Bad =?utf-8?q?x=0D=0ABcc:_victim@example.com?= title",
        "Bad =?UTF-8?B?" + base64.b64encode(b"x\r\nBcc: victim@example.com").decode() + "?=",
        "Caf\u00e9 =?utf-8?q?x=0D=0ABcc:_victim@example.com?= title",
        "Bad\u2028Bcc: victim@example.com\u2029X-Evil: 1\x85Y: 2\x00",
        "=?utf-8?b?"
        + base64.b64encode(b"=?utf-8?q?x=0D=0ABcc:_victim@example.com?=").decode()
        + "?=",
    ],
)
def test_no_title_can_add_a_header(tmp_path: Path, title: str) -> None:
    t = _template(tmp_path, subject=f"{title} and 2 more reviews")
    data = t.render(Recipient("ann@example.org", "Ann", "tok"))
    head = data.split(b"\r\n\r\n", 1)[0]
    names = [ln.split(b":", 1)[0] for ln in head.split(b"\r\n") if not ln.startswith(b" ")]
    assert b"Bcc" not in names and b"X-Evil" not in names and b"Y" not in names
    msg = _parse(data)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    subject = str(msg["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\u2028" not in subject
    assert "victim@example.com" in subject  # kept as text, harmlessly
    assert subject.endswith("and 2 more reviews")


def test_clean_subject_keeps_ordinary_titles() -> None:
    assert clean_subject("The Understudy (A+) and 13 more") == "The Understudy (A+) and 13 more"
    assert clean_subject("Am\u00e9lie \u2014 revisited") == "Am\u00e9lie \u2014 revisited"
    assert clean_subject("x" * 400).endswith("\u2026") and len(clean_subject("x" * 400)) == 250


@pytest.mark.parametrize(
    ("email", "token"),
    [
        ("ann@example.org\r\nBcc: x@y.z", "tok"),
        ("ann@example.org", "tok\r\nX: 1"),
        ("ann @example.org", "tok"),
        ("<ann@example.org>", "tok"),
    ],
)
def test_recipient_values_that_could_inject_are_refused(
    tmp_path: Path, email: str, token: str
) -> None:
    t = _template(tmp_path)
    with pytest.raises(RecipientError):
        t.render(Recipient(email, "Ann", token))


def test_test_copies_are_marked_and_get_their_own_message_id(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    r = rendered_digest(config)
    t = MessageTemplate.of_rendering(config, r, date=NOW, test_copy=True)
    real = _template(tmp_path)
    msg = _parse(t.render(Recipient("ann@example.org", "Ann", "tok")))
    assert msg["Subject"] == "[TEST] Three new reviews"
    assert msg["Message-ID"] != real.message_id("ann@example.org")
