"""A sign-up nobody confirms is forgotten once its link has expired, with no one asking: every
run (``run_once``: ``digest run``, ``digest send``, a scheduled firing), every scheduler tick
and every start of ``digest serve`` clears expired pending addresses out, events and all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from support.cli import digest
from support.smtp import NOW, add_subscribers, write_config, write_reviews
from support.web import running, write_web_config

from digest.config import Config, load_config
from digest.pipeline.run import run_once
from digest.schedule.tick import tick
from digest.state import db, signup, subscribers


def _config(tmp_path: Path) -> Config:
    config = load_config(write_config(tmp_path))
    write_reviews(tmp_path / "reviews", 2)
    add_subscribers(config, 1)
    return config


def _sign_up(config: Config, email: str, at: datetime) -> None:
    """A sign-up from the web form at ``at``, its link valid for 48 hours."""
    conn = db.connect(config.state)
    try:
        signup.request(conn, email, "", now=at, ip="192.0.2.7", within=timedelta(hours=48),
                       per_address=3, per_ip=10)  # fmt: skip
    finally:
        conn.close()


def _left(config: Config) -> tuple[list[str], int]:
    """The pending addresses still held, and how many events are left for anyone pending."""
    conn = db.connect(config.state)
    try:
        pending = [s.email for s in subscribers.listing(conn, "pending")]
        held = conn.execute(
            "SELECT count(*) FROM events e JOIN subscribers s ON s.id = e.subscriber_id "
            "WHERE s.status = 'pending'"
        ).fetchone()[0]
    finally:
        conn.close()
    return pending, held


def test_a_run_forgets_expired_sign_ups_and_keeps_fresh_ones(tmp_path: Path) -> None:
    config = _config(tmp_path)
    # (A sign-up clears out those expired by its own time, so the old one comes second.)
    _sign_up(config, "fresh@example.net", NOW - timedelta(hours=1))
    _sign_up(config, "never@example.net", NOW - timedelta(days=3))
    assert _left(config) == (["fresh@example.net", "never@example.net"], 2)
    result = run_once(config, now=NOW)
    assert result.outcome == "sent" and result.sent == 1  # pending ones are never mailed
    assert _left(config) == (["fresh@example.net"], 1)


def test_a_scheduler_tick_with_nothing_due_still_forgets_them(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _sign_up(config, "never@example.net", NOW - timedelta(days=3))
    # Wednesday: the Monday firing is far past its grace, so no run is due.
    report = tick(config, now=NOW)
    assert not report.results
    assert _left(config) == ([], 0)


def test_digest_run_forgets_them(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _sign_up(config, "never@example.net", datetime.now(UTC) - timedelta(days=3))
    done = digest(config.path, "run")
    assert done.returncode == 0, done.stderr
    assert _left(config) == ([], 0)


def test_digest_serve_forgets_them_when_it_starts(tmp_path: Path) -> None:
    config = write_web_config(tmp_path, signup={})
    _sign_up(config, "fresh@example.net", datetime.now(UTC))
    _sign_up(config, "never@example.net", datetime.now(UTC) - timedelta(days=3))
    assert len(_left(config)[0]) == 2
    with running(config) as base:
        assert httpx.get(f"{base}/healthz", timeout=20).text == "ok"
        assert _left(config) == (["fresh@example.net"], 1)
