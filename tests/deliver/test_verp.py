"""VERP: with ``newsletter.return_path`` set, each copy leaves with its own envelope sender
(``bounces+<issue>=<token>@domain``), and a bounce that comes back to that address names its
subscriber and issue though it says nothing else about them."""

from __future__ import annotations

from pathlib import Path

from support.cli import digest
from support.inbound import mail
from support.smtp import NOW, Sink, add_subscribers, write_config, write_reviews

from digest.config import load_config
from digest.pipeline.run import run_once
from digest.state import db, events, subscribers


def test_each_copy_has_its_own_return_path_and_its_bounce_names_the_reader(
    tmp_path: Path, sink: Sink
) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    path = write_config(tmp_path, smtp=smtp, outbox=None,
                        newsletter={"return_path": "bounces@reel.example.org"})  # fmt: skip
    config = load_config(path)
    emails = add_subscribers(config, 3)
    write_reviews(tmp_path / "reviews", 2)
    result = run_once(config, now=NOW)
    assert result.sent == 3
    conn = db.connect(config.state)
    try:
        tokens = {e: subscribers.get(conn, e).token for e in emails}  # type: ignore[union-attr]
    finally:
        conn.close()
    key = result.issue_id
    by_rcpt = {r.rcpt_tos[0]: r.mail_from for r in sink.received}
    assert by_rcpt == {e: f"bounces+{key}={tokens[e]}@reel.example.org" for e in emails}
    # The From header stays the newsletter's.
    sender = config.newsletter.sender_address
    assert all(sender in r.message["From"] for r in sink.received)

    victim = emails[1]
    bounce = mail("dsn-verp-only", verp=by_rcpt[victim]).decode()
    done = digest(path, "inbound", "--stdin", stdin=bounce)
    assert done.returncode == 0, done.stderr
    assert f"{victim}: hard-bounce (now bounced)" in done.stdout
    conn = db.connect(config.state)
    try:
        statuses = {e: subscribers.get(conn, e).status for e in emails}  # type: ignore[union-attr]
        bounced = subscribers.get(conn, victim)
        assert bounced is not None
        event = events.history(conn, bounced.id)[-1]
    finally:
        conn.close()
    assert statuses == {e: "bounced" if e == victim else "active" for e in emails}
    assert event.kind == "hard-bounce" and event.evidence["issue"] == key


def test_without_return_path_the_envelope_sender_is_the_from_address(
    tmp_path: Path, sink: Sink
) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    config = load_config(write_config(tmp_path, smtp=smtp, outbox=None))
    add_subscribers(config, 2)
    write_reviews(tmp_path / "reviews", 2)
    assert run_once(config, now=NOW).sent == 2
    assert {r.mail_from for r in sink.received} == {config.newsletter.sender_address}


def test_a_return_path_with_a_name_or_a_plus_is_one_line_with_the_fix(tmp_path: Path) -> None:
    from support.cli import assert_one_line_error

    for bad in ("Bounces <bounces@reel.example.org>", "bounces+x@reel.example.org"):
        path = write_config(tmp_path, newsletter={"return_path": bad})
        done = digest(path, "subscribers", "list")
        assert_one_line_error(done, "newsletter.return_path", "bounces@example.org")
