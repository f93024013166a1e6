"""The send summary says how many subscribers no copy went to, and why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.smtp import NOW, Sink, add_subscribers, write_config, write_reviews

from digest.config import load_config
from digest.pipeline.run import left_out, run_once
from digest.state import db, signup, subscribers


def test_the_summary_counts_who_was_left_out_and_why(tmp_path: Path, sink: Sink) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    config = load_config(write_config(tmp_path, smtp=smtp, outbox=None))
    emails = add_subscribers(config, 3)
    conn = db.connect(config.state)
    try:
        subscribers.set_status(conn, emails[0], "bounced")
        for who in ("a", "b"):
            signup.request(conn, f"{who}@example.org", "", now=NOW, ip="192.0.2.9",
                           within=timedelta(hours=1), per_address=3, per_ip=10)  # fmt: skip
    finally:
        conn.close()
    write_reviews(tmp_path / "reviews", 2)
    result = run_once(config, now=NOW)
    assert result.sent == 2 and len(sink.received) == 2
    assert result.message.endswith("; 3 not sent: 2 pending confirmation, 1 bounced")


def test_nobody_left_out_adds_nothing() -> None:
    assert left_out({"active": 4, "pending": 0, "bounced": 0}) == ""
