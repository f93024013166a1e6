"""``digest inbound`` against a real IMAP server (dovecot on loopback): every shape of report
changes the right subscriber once, and nothing not understood is moved or deleted."""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.config import build_config
from support.imap import PASSWORD, USER, Dovecot
from support.inbound import mail

from digest.config import Config
from digest.errors import InboundError
from digest.inbound.process import process_mailbox
from digest.state import db, events, subscribers

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, port: int, **inbound: Any) -> Config:
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
                "password_env": "BOUNCE_PASSWORD", **inbound}  # fmt: skip
    return build_config(tmp_path, inbound=settings)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOUNCE_PASSWORD", PASSWORD)


def _people(config: Config) -> dict[str, subscribers.Subscriber]:
    conn = db.connect(config.state)
    try:
        return {
            who: subscribers.add(conn, f"{who}@example.net", who.title())
            for who in ("hard", "soft", "redacted", "away", "leaver", "happy")
        }
    finally:
        conn.close()


def _statuses(config: Config) -> dict[str, tuple[str, int]]:
    conn = db.connect(config.state)
    try:
        rows = conn.execute("SELECT email, status, soft_bounces FROM subscribers")
        return {r[0].split("@")[0]: (r[1], r[2]) for r in rows}
    finally:
        conn.close()


def _delays(address: str, n: int) -> list[bytes]:
    one = mail("dsn-delayed", address)
    return [one.replace(b"<delay-7781@", f"<delay-{i}@".encode()) for i in range(n)]


def _mailbox(people: dict[str, subscribers.Subscriber]) -> list[bytes]:
    return [
        mail("dsn-hard-postfix", "hard@example.net", people["hard"].token),
        *_delays("soft@example.net", 3),
        mail("arf-redacted", token=people["redacted"].token),
        mail("out-of-office", "away@example.net"),
        mail("mailto-unsubscribe", "someone-else@example.net", people["leaver"].token),
        mail("letter", "happy@example.net"),
        mail("bounce-exim", "stranger@example.org"),
    ]


def test_one_pass_moves_every_address_it_should_and_leaves_the_rest(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    config = _config(tmp_path, dovecot.port, soft_bounce_limit=3)
    people = _people(config)
    dovecot.deliver(*_mailbox(people))

    report = process_mailbox(config, now=NOW)

    assert _statuses(config) == {
        "hard": ("bounced", 0), "soft": ("bounced", 3), "redacted": ("complained", 0),
        "away": ("active", 0), "leaver": ("unsubscribed", 0), "happy": ("active", 0),
    }  # fmt: skip
    assert report.handled == {"hard-bounce": 1, "soft-bounce": 3, "complaint": 1,
                              "auto-reply": 1, "unsubscribe": 1}  # fmt: skip
    # Not understood, or about no subscriber: still in the inbox, still unread.
    assert sorted(dovecot.subjects("INBOX")) == [
        "Loved the review of The Understudy (unread)",
        "Mail delivery failed: returning message to sender (unread)",
    ]
    assert len(dovecot.subjects("digest-processed")) == 7
    conn = db.connect(config.state)
    try:
        bounce = events.history(conn, people["hard"].id)
    finally:
        conn.close()
    assert [e.kind for e in bounce] == ["hard-bounce"]
    assert "5.1.1" in bounce[0].detail
    assert bounce[0].evidence["message_id"] == "<20261123080112.4F2A1C0012@mx.reel.example.org>"

    # A second pass finds nothing new; the messages left for a person are not read again.
    again = process_mailbox(config, now=NOW)
    assert not again.handled and not again.left


def test_the_same_report_twice_counts_once(tmp_path: Path, dovecot: Dovecot) -> None:
    config = _config(tmp_path, dovecot.port, soft_bounce_limit=3)
    _people(config)
    delay = _delays("soft@example.net", 1)[0]
    dovecot.deliver(delay, delay)
    report = process_mailbox(config, now=NOW)
    assert report.handled == {"soft-bounce": 2} and report.repeated == 1
    assert _statuses(config)["soft"] == ("active", 1)


class _CuttingProxy:
    """A TCP proxy in front of dovecot that drops both sides after ``limit`` bytes from the
    server: an IMAP server going away mid-fetch."""

    def __init__(self, port: int, limit: int):
        self.target, self.limit = port, limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with self.listener:
            client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
        self._pump(server, client, self.limit)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(4096):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv
            s.close()


def test_a_server_that_drops_mid_fetch_loses_nothing_and_doubles_nothing(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    config = _config(tmp_path, dovecot.port, soft_bounce_limit=5)
    people = _people(config)
    dovecot.deliver(*_mailbox(people))
    proxy = _CuttingProxy(dovecot.port, limit=6000)
    cut = _config(tmp_path, proxy.port, soft_bounce_limit=5)

    with pytest.raises(InboundError, match=r"IMAP 127\.0\.0\.1:\d+: connection"):
        process_mailbox(cut, now=NOW)
    moved = len(dovecot.subjects("digest-processed"))
    assert 0 < moved < 7  # it really cut mid-way, after some messages were handled

    process_mailbox(config, now=NOW)
    assert _statuses(config) == {
        "hard": ("bounced", 0), "soft": ("active", 3), "redacted": ("complained", 0),
        "away": ("active", 0), "leaver": ("unsubscribed", 0), "happy": ("active", 0),
    }  # fmt: skip
    assert len(dovecot.subjects("INBOX")) == 2
    assert len(dovecot.subjects("digest-processed")) == 7


def test_a_wrong_password_is_one_clear_error(tmp_path: Path, dovecot: Dovecot,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("BOUNCE_PASSWORD", "wrong")
    config = _config(tmp_path, dovecot.port)
    with pytest.raises(InboundError, match="login refused"):
        process_mailbox(config, now=NOW)
