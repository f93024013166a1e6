"""``digest inbound`` on standard input, as an MTA pipe runs it: a report it understands
changes the subscriber and exits 0; anything else changes nothing and exits 1 with one line,
so the MTA keeps the message for a person instead of it being dropped."""

from __future__ import annotations

from pathlib import Path

from support.cli import assert_one_line_error, digest
from support.config import build_config
from support.inbound import mail

from digest.config import Config
from digest.state import db, subscribers


def _config(tmp_path: Path) -> Config:
    config = build_config(tmp_path)
    conn = db.connect(config.state)
    try:
        subscribers.add(conn, "sam@example.net")
    finally:
        conn.close()
    return config


def _events(config: Config) -> int:
    conn = db.connect(config.state)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_a_bounce_piped_in_without_any_option_is_recorded(tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = digest(config.path, "inbound", stdin=mail("dsn-hard-postfix").decode())
    assert done.returncode == 0, done.stderr
    assert "sam@example.net: hard-bounce (now bounced)" in done.stdout
    assert _events(config) == 1


def test_a_message_it_does_not_understand_exits_1_and_records_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = digest(config.path, "inbound", stdin=mail("letter").decode())
    assert_one_line_error(done, "not a bounce, complaint or unsubscribe", "nothing was recorded")
    assert _events(config) == 0


def test_a_bounce_about_no_subscriber_exits_1(tmp_path: Path) -> None:
    config = _config(tmp_path)
    stranger = mail("dsn-hard-postfix", "stranger@example.org").decode()
    done = digest(config.path, "inbound", "--stdin", stdin=stranger)
    assert_one_line_error(done, "matches no subscriber")
    assert _events(config) == 0


def test_no_message_at_all_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert_one_line_error(digest(config.path, "inbound"), "no message on standard input", "--imap")
    assert_one_line_error(digest(config.path, "inbound", stdin="\r\n"), "no message")


def test_a_message_that_trips_a_bounce_detector_shows_no_traceback(tmp_path: Path) -> None:
    # No From: one of flufl.bounce's detectors raises on it and logs the traceback.
    config = _config(tmp_path)
    done = digest(config.path, "inbound", stdin="Subject: hello\r\n\r\njust a note\r\n")
    assert_one_line_error(done, "not a bounce, complaint or unsubscribe")
    assert "Exception in detector" not in done.stderr


def test_imap_and_stdin_together_are_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = digest(config.path, "inbound", "--imap", "--stdin")
    assert done.returncode == 2 and "pass one of them" in done.stderr
