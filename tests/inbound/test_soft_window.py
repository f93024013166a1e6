"""Soft bounces count within ``inbound.soft_bounce_window``: an address is ``bounced`` after
``soft_bounce_limit`` of them in the window, and older ones stop counting. Each report goes
through the real inbound path (``process_message`` is ``digest inbound --stdin``) on the
pinned clock; the last test pipes them into the command itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from support.cli import digest
from support.clock import NOW
from support.config import build_config
from support.inbound import mail

from digest.config import Config
from digest.inbound.process import process_message
from digest.state import db, events, subscribers

READER = "reader@example.net"


def _config(tmp_path: Path, **inbound: Any) -> Config:
    settings = {"host": "127.0.0.1", "port": 993, "security": "none", "username": "bounces",
                "password_env": "BOUNCE_PASSWORD", **inbound}  # fmt: skip
    return build_config(tmp_path, inbound=settings)


def _add(config: Config, email: str = READER) -> None:
    conn = db.connect(config.state)
    try:
        subscribers.add(conn, email)
    finally:
        conn.close()


def _delay(n: int, address: str = READER) -> bytes:
    """A distinct "delayed" DSN (its own Message-ID: its own effect) for ``address``."""
    return mail("dsn-delayed", address).replace(b"<delay-7781@", f"<delay-{n}@".encode())


def _soft_bounce_on_days(config: Config, *days: int) -> list[tuple[str, int]]:
    """Feed one delay report per day given (days after ``NOW``); (status, soft_bounces) after
    each."""
    seen = []
    for day in days:
        report = process_message(config, _delay(day), now=NOW + timedelta(days=day))
        assert report.handled == {"soft-bounce": 1} and not report.repeated
        seen.append(_standing(config))
    return seen


def _standing(config: Config, email: str = READER) -> tuple[str, int]:
    conn = db.connect(config.state)
    try:
        row = conn.execute(
            "SELECT status, soft_bounces FROM subscribers WHERE email = ?", (email,)
        ).fetchone()
    finally:
        conn.close()
    return row[0], row[1]


def test_three_soft_bounces_within_the_window_bounce_the_address(tmp_path: Path) -> None:
    config = _config(tmp_path, soft_bounce_limit=3, soft_bounce_window="30d")
    _add(config)
    assert _soft_bounce_on_days(config, 0, 12, 29) == [
        ("active", 1), ("active", 2), ("bounced", 3),
    ]  # fmt: skip


def test_three_spread_over_more_than_the_window_leave_it_active(tmp_path: Path) -> None:
    config = _config(tmp_path, soft_bounce_limit=3, soft_bounce_window="30d")
    _add(config)
    # Day 40: day 0 has left the window, so only days 20 and 40 count.
    assert _soft_bounce_on_days(config, 0, 20, 40) == [
        ("active", 1), ("active", 2), ("active", 2),
    ]  # fmt: skip
    # The ones still inside keep counting: day 45 is the third since day 15.
    process_message(config, _delay(45), now=NOW + timedelta(days=45))
    assert _standing(config) == ("bounced", 3)
    conn = db.connect(config.state)
    try:
        found = subscribers.get(conn, READER)
        assert found is not None
        # Every report is kept as evidence, counted or not.
        kinds = [e.kind for e in events.history(conn, found.id)]
    finally:
        conn.close()
    assert kinds == ["soft-bounce"] * 4


def test_the_window_is_the_configured_one_also_without_a_mailbox(tmp_path: Path) -> None:
    # Only the soft-bounce settings: enough for reports piped in on standard input.
    config = build_config(tmp_path, inbound={"soft_bounce_limit": 2, "soft_bounce_window": "7d"})
    _add(config)
    assert _soft_bounce_on_days(config, 0, 8, 14) == [
        ("active", 1), ("active", 1), ("bounced", 2),
    ]  # fmt: skip


def test_a_re_added_address_starts_counting_again(tmp_path: Path) -> None:
    config = _config(tmp_path, soft_bounce_limit=3, soft_bounce_window="30d")
    _add(config)
    assert _soft_bounce_on_days(config, 0, 1, 2)[-1] == ("bounced", 3)
    _add(config)  # the operator's `digest subscribers add`: try this address again
    assert _standing(config) == ("active", 0)
    # The three old reports are still inside the window, but they came before the address
    # was taken back: the next one is the first of a new count.
    process_message(config, _delay(3), now=NOW + timedelta(days=3))
    assert _standing(config) == ("active", 1)


def test_without_an_inbound_section_thirty_days_and_three_apply(tmp_path: Path) -> None:
    config = build_config(tmp_path)
    assert config.inbound is None
    _add(config)
    assert [s for s, _ in _soft_bounce_on_days(config, 0, 31, 62)] == ["active"] * 3
    assert _soft_bounce_on_days(config, 63, 64)[-1] == ("bounced", 3)


def test_digest_inbound_on_stdin_counts_and_the_counts_line_agrees(tmp_path: Path) -> None:
    config = _config(tmp_path, soft_bounce_limit=2, soft_bounce_window="30d")
    for who in ("reader", "other", "third"):
        _add(config, f"{who}@example.net")
    first = digest(config.path, "inbound", "--stdin", stdin=_delay(1).decode())
    assert first.returncode == 0, first.stderr
    assert "reader@example.net: soft-bounce (now active)" in first.stdout
    second = digest(config.path, "inbound", "--stdin", stdin=_delay(2).decode())
    assert "reader@example.net: soft-bounce (now bounced)" in second.stdout
    listed = digest(config.path, "subscribers", "list")
    assert listed.returncode == 0, listed.stderr
    assert "subscribers: 2 active, 0 pending, 1 bounced, 0 complained, 0 unsubscribed" in (
        listed.stdout
    )
    history = digest(config.path, "history")
    assert "1 bounced" in history.stdout
