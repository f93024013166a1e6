"""The optional welcome mail (``signup.welcome: true``): sent once, after the button on the
confirmation page is pressed, through the real web app on loopback into a real SMTP server,
with the reader's own working unsubscribe link and the list headers an issue carries."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from support.clock import NOW
from support.inbound import mail
from support.smtp import ACCEPT, Script, ScriptedServer, Sink
from support.web import CONFIG, running, status_of, write_web_config

from digest.config import Config
from digest.inbound.process import process_message
from digest.state import db, events, subscribers

CONFIRM = re.compile(r"https://lateshow\.example\.org/confirm/([A-Za-z0-9_-]+)")
UNSUBSCRIBE = re.compile(r"https://lateshow\.example\.org(/unsubscribe/[A-Za-z0-9_-]+)")
WELCOME = "Welcome to The Late Show Letter"


def _config(tmp_path: Path, port: int, **more: Any) -> Config:
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "rate": 0}
    signup = more.pop("signup", {"welcome": True})
    return write_web_config(tmp_path, smtp=smtp, signup=signup, **more)


def _wait(count: Callable[[], int], n: int, wait: float = 10) -> None:
    """Until ``count()`` reaches ``n`` (mail leaves after the answer), then a moment more so
    that one too many would be seen."""
    deadline = time.monotonic() + wait
    while count() < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)


def _parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def _confirm_token(message: EmailMessage) -> str:
    found = CONFIRM.search(_text(message))
    assert found is not None
    return found.group(1)


def _confirmed_event(config: Config, email: str) -> events.Event:
    conn = db.connect(config.state)
    try:
        found = subscribers.get(conn, email)
        assert found is not None
        return [e for e in events.history(conn, found.id) if e.kind == "confirmed"][-1]
    finally:
        conn.close()


def test_confirming_sends_one_welcome_with_a_working_unsubscribe_link(
    tmp_path: Path, sink: Sink
) -> None:
    config = _config(tmp_path, sink.port)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        site.post("/subscribe", data={"email": "nora@example.net", "name": "Nora Vance"})
        _wait(lambda: len(sink.received), 1)
        (confirmation,) = sink.received
        token = _confirm_token(confirmation.message)
        # Opening the link (a scanner) sends nothing; only the button does.
        assert site.get(f"/confirm/{token}").status_code == 200
        _wait(lambda: len(sink.received), 2, wait=1)
        assert len(sink.received) == 1
        done = site.post(f"/confirm/{token}")
        assert done.status_code == 200 and "You are subscribed" in done.text
        _wait(lambda: len(sink.received), 2)
        assert len(sink.received) == 2
        welcome = sink.received[1]
        message = welcome.message
        assert welcome.rcpt_tos == ["nora@example.net"] and message["To"] == "nora@example.net"
        assert message["Subject"] == WELCOME
        assert welcome.mail_from == "letters@lateshow.example.org"  # no return_path: From
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert (
            message["List-Id"]
            == '"The Late Show Letter" <the-late-show-letter.lateshow.example.org>'
        )
        assert message["Precedence"] == "bulk"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Message-ID"].startswith("<welcome.")
        header = UNSUBSCRIBE.search(message["List-Unsubscribe"])
        text = UNSUBSCRIBE.search(_text(message))
        html = UNSUBSCRIBE.search(_html(message))
        assert header and text and html
        assert header.group(1) == text.group(1) == html.group(1)
        assert "Hello Nora Vance," in _text(message) and "Read past issues" in _html(message)

        # The link is the reader's own: opening it asks, the one-click POST unsubscribes.
        path = header.group(1)
        assert "Unsubscribe" in site.get(path).text
        assert status_of(config, "nora@example.net") == "active"
        one_click = site.post(path, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200
        assert status_of(config, "nora@example.net") == "unsubscribed"

        # A reused confirmation link sends nothing more.
        assert site.post(f"/confirm/{token}").status_code == 404
        _wait(lambda: len(sink.received), 3, wait=1.5)
        assert len(sink.received) == 2

    evidence = _confirmed_event(config, "nora@example.net").evidence
    assert evidence["welcome"] == "sent"
    assert evidence["welcome_message_id"] == message["Message-ID"]


def test_off_by_default_a_confirmation_sends_no_welcome(tmp_path: Path, sink: Sink) -> None:
    config = _config(tmp_path, sink.port, signup={})
    assert config.signup is not None and config.signup.welcome is False
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        site.post("/subscribe", data={"email": "quiet@example.net"})
        _wait(lambda: len(sink.received), 1)
        token = _confirm_token(sink.received[0].message)
        assert site.post(f"/confirm/{token}").status_code == 200
        _wait(lambda: len(sink.received), 2, wait=1.5)
    assert [m.message["Subject"] for m in sink.received] == [
        "Confirm your subscription to The Late Show Letter"
    ]
    assert status_of(config, "quiet@example.net") == "active"
    assert "welcome" not in _confirmed_event(config, "quiet@example.net").evidence


def test_a_refused_welcome_leaves_the_address_confirmed_and_is_recorded(
    tmp_path: Path,
) -> None:
    # The server takes the confirmation mail and refuses the next one.
    with ScriptedServer(Script(bodies=[ACCEPT, "550 5.7.1 not today"])) as server:
        config = _config(tmp_path, server.port)
        with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
            site.post("/subscribe", data={"email": "unlucky@example.net"})
            _wait(lambda: len(server.transcript.accepted), 1)
            token = _confirm_token(_parse(server.transcript.accepted[0]))
            done = site.post(f"/confirm/{token}")
            assert done.status_code == 200 and "You are subscribed" in done.text
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if "welcome" in _confirmed_event(config, "unlucky@example.net").evidence:
                    break
                time.sleep(0.05)
    evidence = _confirmed_event(config, "unlucky@example.net").evidence
    assert evidence["welcome"] == "failed" and "550 5.7.1 not today" in evidence["welcome_error"]
    assert status_of(config, "unlucky@example.net") == "active"
    assert len(server.transcript.accepted) == 1


def test_with_a_return_path_a_bounced_welcome_names_its_reader(tmp_path: Path, sink: Sink) -> None:
    newsletter = {**CONFIG["newsletter"], "return_path": "bounces@lateshow.example.org"}
    config = _config(tmp_path, sink.port, newsletter=newsletter)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        site.post("/subscribe", data={"email": "moved@example.net"})
        _wait(lambda: len(sink.received), 1)
        assert sink.received[0].mail_from == "letters@lateshow.example.org"  # confirmation
        site.post(f"/confirm/{_confirm_token(sink.received[0].message)}")
        _wait(lambda: len(sink.received), 2)
    verp = sink.received[1].mail_from
    assert re.fullmatch(r"bounces\+welcome=[A-Za-z0-9_-]{43}@lateshow\.example\.org", verp)
    report = process_message(config, mail("dsn-verp-only", verp=verp), now=NOW)
    assert report.changes == [("moved@example.net", "hard-bounce", "bounced")]
