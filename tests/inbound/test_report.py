"""Reading inbound mail: each shape of DSN, complaint, auto-reply and unsubscribe, from our
own fixtures in the shapes real servers send."""

from __future__ import annotations

import pytest
from support.inbound import MSGID, TOKEN, mail

from digest.inbound.report import read_message


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dsn-hard-postfix", "hard-bounce"),
        ("bounce-exim", "hard-bounce"),
        ("bounce-qmail", "hard-bounce"),
        ("dsn-delayed", "soft-bounce"),
        ("arf-abuse", "complaint"),
        ("arf-redacted", "complaint"),
        ("out-of-office", "auto-reply"),
        ("vacation-no-headers", "auto-reply"),
        ("mailto-unsubscribe", "unsubscribe"),
        ("letter", "unknown"),
    ],
)
def test_each_shape_is_read_as_what_it_is(name: str, kind: str) -> None:
    assert read_message(mail(name)).kind == kind


def test_an_rfc3464_bounce_names_the_recipient_and_keeps_the_evidence() -> None:
    reading = read_message(mail("dsn-hard-postfix", "Gone.Away@Example.net"))
    assert reading.recipients == ("gone.away@example.net",)
    assert "failed 5.1.1" in reading.detail and "User unknown" in reading.detail
    assert reading.source == "<20261123080112.4F2A1C0012@mx.reel.example.org>"
    assert reading.tokens == (TOKEN,) and reading.message_ids == (MSGID,)
    assert reading.evidence["subject"] == "Undelivered Mail Returned to Sender"


def test_a_delay_is_soft_and_a_non_standard_bounce_is_found_by_flufl() -> None:
    delayed = read_message(mail("dsn-delayed"))
    assert delayed.recipients == ("sam@example.net",) and "4.2.2" in delayed.detail
    exim = read_message(mail("bounce-exim", "nobody@example.net"))
    assert exim.recipients == ("nobody@example.net",)
    qmail = read_message(mail("bounce-qmail", "nobody@example.net"))
    assert qmail.recipients == ("nobody@example.net",) and qmail.message_ids


def test_a_redacted_complaint_is_matched_by_the_token_it_quotes() -> None:
    reading = read_message(mail("arf-redacted"))
    assert reading.recipients == ()
    assert reading.tokens == (TOKEN,) and reading.message_ids == (MSGID,)
    assert "abuse" in reading.detail


def test_an_out_of_office_that_talks_like_a_bounce_is_still_an_auto_reply() -> None:
    reading = read_message(mail("out-of-office"))
    assert reading.kind == "auto-reply" and reading.recipients == ()


def test_a_message_without_message_id_gets_a_stable_source() -> None:
    data = mail("letter").replace(b"Message-ID: <letter-1@example.net>\r\n", b"")
    first, second = read_message(data), read_message(data)
    assert first.source.startswith("sha256:") and first.source == second.source


def test_garbage_is_unknown_not_a_crash() -> None:
    for data in (b"", b"\xff\xfe\x00garbage", b"Content-Type: multipart/report\r\n\r\n--x"):
        assert read_message(data).kind == "unknown"
