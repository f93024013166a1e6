"""Sign-up with double opt-in over real HTTP (uvicorn on loopback), the confirmation mail
caught by a real SMTP server (aiosmtpd), the state checked in the database file."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.smtp import Sink
from support.web import add_subscriber, running, status_of, write_web_config

from digest.config import Config
from digest.state import db, events, signup, subscribers

LINK = re.compile(r"https://lateshow\.example\.org/confirm/([A-Za-z0-9_-]+)")


def _config(tmp_path: Path, sink: Sink, **limits: Any) -> Config:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    return write_web_config(tmp_path, smtp=smtp, signup=limits)


@pytest.fixture
def config(tmp_path: Path, sink: Sink) -> Config:
    return _config(tmp_path, sink)


@pytest.fixture
def site(config: Config) -> Iterator[httpx.Client]:
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield client


def _mails(sink: Sink, n: int, wait: float = 10) -> list[Any]:
    """The messages the sink holds once ``n`` have come (the mail leaves after the answer)."""
    deadline = time.monotonic() + wait
    while len(sink.received) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # and no more than that
    return sink.received


def _sign_up(site: httpx.Client, email: str, name: str = "", **more: str) -> httpx.Response:
    return site.post("/subscribe", data={"email": email, "name": name, **more})


def test_sign_up_confirm_and_a_link_scanner_in_between(
    site: httpx.Client, config: Config, sink: Sink
) -> None:
    form = site.get("/subscribe")
    assert form.status_code == 200 and 'name="email"' in form.text
    answer = _sign_up(site, "Nora@Example.net", "Nora Vance")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert status_of(config, "Nora@example.net") == "pending"

    (mail,) = _mails(sink, 1)
    message = mail.message
    assert mail.rcpt_tos == ["Nora@example.net"] and message["To"] == "Nora@example.net"
    assert message["Subject"] == "Confirm your subscription to The Late Show Letter"
    assert "List-Unsubscribe" not in message
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Nora Vance," in text and "Confirm my subscription" in html
    token = LINK.search(text).group(1)  # type: ignore[union-attr]
    assert LINK.search(html).group(1) == token  # type: ignore[union-attr]

    # A scanner (or the reader) opening the link changes nothing.
    for _ in range(3):
        shown = site.get(f"/confirm/{token}")
        assert shown.status_code == 200 and "Confirm your subscription" in shown.text
    assert status_of(config, "Nora@example.net") == "pending"

    done = site.post(f"/confirm/{token}")
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert status_of(config, "Nora@example.net") == "active"
    # The link works once.
    assert site.post(f"/confirm/{token}").status_code == 404
    assert site.get(f"/confirm/{token}").status_code == 404


def test_the_answer_is_the_same_whoever_is_asking(
    site: httpx.Client, config: Config, sink: Sink
) -> None:
    add_subscriber(config, "a.active@example.net")
    add_subscriber(config, "a.gone@example.net")
    add_subscriber(config, "a.bounced@example.net")
    conn = db.connect(config.state)
    subscribers.remove(conn, "a.gone@example.net")
    subscribers.set_status(conn, "a.bounced@example.net", "bounced")
    conn.close()
    answers = [
        _sign_up(site, f"a.{who}@example.net")
        for who in ("new", "active", "gone", "bounced", "new")
    ]
    assert {(a.status_code, a.text) for a in answers} == {(answers[0].status_code, answers[0].text)}
    # Everyone but the active subscriber is sent a link (the new address twice).
    got = sorted(m.rcpt_tos[0] for m in _mails(sink, 4))
    assert got == ["a.bounced@example.net", "a.gone@example.net", "a.new@example.net",
                   "a.new@example.net"]  # fmt: skip
    # Asking is not subscribing: nothing changed for the ones already known.
    assert status_of(config, "a.gone@example.net") == "unsubscribed"
    assert status_of(config, "a.bounced@example.net") == "bounced"


def test_a_bounced_address_that_confirms_comes_back_with_a_clean_count(
    site: httpx.Client, config: Config, sink: Sink
) -> None:
    add_subscriber(config, "back@example.net")
    conn = db.connect(config.state)
    conn.execute("UPDATE subscribers SET status = 'bounced', soft_bounces = 3")
    conn.close()
    _sign_up(site, "back@example.net")
    (mail,) = _mails(sink, 1)
    token = LINK.search(mail.message.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    assert site.post(f"/confirm/{token}").status_code == 200
    conn = db.connect(config.state)
    row = conn.execute("SELECT status, soft_bounces FROM subscribers").fetchone()
    conn.close()
    assert tuple(row) == ("active", 0)


def test_floods_from_one_address_and_one_ip_send_only_up_to_the_limits(
    tmp_path: Path, sink: Sink
) -> None:
    config = _config(tmp_path, sink, per_address=2, per_ip=4)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        same = [_sign_up(site, "target@example.net") for _ in range(6)]
        assert len(_mails(sink, 2)) == 2
        others = [_sign_up(site, f"other{i}@example.net") for i in range(5)]
        # 4 per IP per hour: the two to target@ count, so two of the others get a link.
        assert len(_mails(sink, 4)) == 4
    assert {a.status_code for a in same + others} == {200}
    assert len({a.text for a in same}) == 1


def test_over_the_hourly_cap_sign_ups_are_answered_and_recorded_but_not_mailed(
    tmp_path: Path, sink: Sink
) -> None:
    config = _config(tmp_path, sink, per_hour=2)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        answers = [_sign_up(site, f"reader{i}@example.net") for i in range(4)]
        mails = _mails(sink, 3)
    # Mails leave after each answer, in the background: the order they arrive in may vary.
    assert sorted(m.rcpt_tos for m in mails) == [["reader0@example.net"], ["reader1@example.net"]]
    assert {a.status_code for a in answers} == {200}
    assert len({a.text.replace(f"reader{i}", "") for i, a in enumerate(answers)}) == 1
    conn = db.connect(config.state)
    try:
        for i in (2, 3):
            found = subscribers.get(conn, f"reader{i}@example.net")
            assert found is not None and found.status == "pending"
            (event,) = events.history(conn, found.id)
            assert event.kind == "signup" and event.evidence["capped"] is True
            assert "no mail sent" in event.detail
    finally:
        conn.close()


@pytest.mark.parametrize(
    "address",
    [
        "victim@example.net\r\nBcc: many@example.org",
        "victim@example.net\nSubject: win",
        "x" * 65 + "@example.net",
        "someone@" + "a" * 250 + ".example",
        "not-an-address",
        "",
    ],
)
def test_header_injection_and_over_long_addresses_are_refused(
    site: httpx.Client, config: Config, sink: Sink, address: str
) -> None:
    answer = _sign_up(site, address)
    assert answer.status_code == 400 and "look like an email address" in answer.text
    assert "<script" not in answer.text
    conn = db.connect(config.state)
    assert conn.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0
    conn.close()
    assert _mails(sink, 1, wait=0.5) == []


def test_a_name_with_line_breaks_is_one_line_and_a_filled_trap_does_nothing(
    site: httpx.Client, config: Config, sink: Sink
) -> None:
    _sign_up(site, "lines@example.net", "Line\r\nBcc: x@example.org\u2028<b>bold</b>")
    (mail,) = _mails(sink, 1)
    message = mail.message
    assert "Bcc" not in message and mail.rcpt_tos == ["lines@example.net"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in message.get_body(("html",)).get_content()
    trap = _sign_up(site, "bot@example.net", website="http://spam.example")
    assert trap.status_code == 200 and "Check your inbox" in trap.text
    conn = db.connect(config.state)
    assert subscribers.get(conn, "bot@example.net") is None
    conn.close()


def test_an_expired_link_says_so_and_an_unconfirmed_sign_up_is_forgotten(
    site: httpx.Client, config: Config
) -> None:
    conn = db.connect(config.state)
    old = signup.request(
        conn, "late@example.net", "", now=datetime.now(UTC) - timedelta(days=3),
        ip="192.0.2.1", within=timedelta(hours=48), per_address=3, per_ip=10,
    )  # fmt: skip
    conn.close()
    assert site.get(f"/confirm/{old.token}").status_code == 410
    answer = site.post(f"/confirm/{old.token}")
    assert answer.status_code == 410 and "expired" in answer.text
    assert status_of(config, "late@example.net") == "pending"
    # The next sign-up (anyone's) clears out expired pending ones.
    _sign_up(site, "fresh@example.net")
    conn = db.connect(config.state)
    assert subscribers.get(conn, "late@example.net") is None
    conn.close()


def test_without_a_signup_section_there_is_no_form(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        assert site.get("/subscribe").status_code == 404
        assert site.post("/subscribe", data={"email": "a@example.net"}).status_code in (404, 405)


def test_forged_and_altered_confirmation_links_confirm_no_one(
    site: httpx.Client, config: Config, sink: Sink
) -> None:
    _sign_up(site, "waiting@example.net")
    (mail,) = _mails(sink, 1)
    token = LINK.search(mail.message.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    forged = [
        secrets.token_urlsafe(32),  # the right shape, but no one's
        altered,  # one character changed
        token[:-1],  # truncated
        token + "x",  # extended
        "x" * 5000,  # absurdly long
        "%00%0d%0aSet-Cookie:%20a=b",  # control characters, encoded
        "' OR '1'='1",
    ]
    answers = set()
    for bad in forged:
        for response in (site.get(f"/confirm/{bad}"), site.post(f"/confirm/{bad}")):
            assert response.status_code == 404, bad
            assert "set-cookie" not in response.headers
            answers.add(response.text)
    assert len(answers) == 1  # one page, whatever the token
    assert "waiting" not in answers.pop()
    assert status_of(config, "waiting@example.net") == "pending"
    # The real link still works.
    assert site.post(f"/confirm/{token}").status_code == 200
    assert status_of(config, "waiting@example.net") == "active"
