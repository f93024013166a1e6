"""run_once end to end into the Maildir outbox: one issue per period, one copy per subscriber.
The tests taking ``state_value`` run on both backends (a SQLite file, a PostgreSQL database)."""

from __future__ import annotations

import dataclasses
import email
import email.utils
import mailbox
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.hooked import HookedMaildir
from support.smtp import (
    NOW,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
    write_config,
    write_reviews,
)

from digest.cli import cli
from digest.config import Config, load_config
from digest.deliver import MaildirTransport
from digest.errors import DeliveryError, StateError
from digest.pipeline.run import run_once
from digest.state import db, deliveries, ledger, subscribers


def _config(tmp_path: Path, reviews: int = 3, **extra: object) -> Config:
    config = load_config(write_config(tmp_path, **extra))
    write_reviews(tmp_path / "reviews", reviews)
    return config


def _outbox(config: Config) -> list[bytes]:
    if not config.outbox.exists():
        return []
    box = mailbox.Maildir(config.outbox, create=False)
    return [box.get_bytes(k) for k in box.iterkeys()]


def _to(data: bytes) -> str:
    return data.split(b"\r\nTo: ", 1)[0] and data.split(b"To: ", 1)[1].split(b"\r\n")[0].decode()


def test_a_run_collects_renders_records_and_sends_once(tmp_path: Path, state_value: str) -> None:
    config = _config(tmp_path, state=state_value)
    emails = add_subscribers(config, 4)
    result = run_once(config, now=NOW)
    assert (result.outcome, result.sent, result.reviews) == ("sent", 4, 3)
    files = _outbox(config)
    assert sorted(_to(f) for f in files) == sorted(emails)
    conn = db.connect(config.state)
    issue = ledger.get_issue(conn, "2026-W48")
    assert issue is not None and issue.status == "done" and issue.review_count == 3
    assert len(ledger.sent_review_ids(conn)) == 3
    again = run_once(config, now=NOW)
    assert again.outcome == "already-sent"
    assert again.message == "issue 2026-W48 already sent to 4 subscribers"
    assert len(_outbox(config)) == 4
    runs = conn.execute("SELECT trigger, outcome, issue_id FROM runs ORDER BY id").fetchall()
    assert [tuple(r) for r in runs] == [
        ("manual", "sent", "2026-W48"),
        ("manual", "already-sent", "2026-W48"),
    ]


def test_an_empty_week_is_recorded_and_sends_nothing(tmp_path: Path, state_value: str) -> None:
    config = _config(tmp_path, reviews=0, state=state_value)
    add_subscribers(config, 2)
    result = run_once(config, now=NOW)
    assert result.outcome == "empty" and "no new reviews" in result.message
    assert _outbox(config) == []
    conn = db.connect(config.state)
    issue = ledger.get_issue(conn, "2026-W48")
    assert issue is not None and issue.status == "empty"
    write_reviews(tmp_path / "reviews", 2)  # reviews arriving later that week wait for the next
    assert run_once(config, now=NOW).outcome == "empty"
    assert _outbox(config) == []


def test_quiet_week_sends_the_short_note(tmp_path: Path) -> None:
    config = _config(tmp_path, reviews=0)
    config = load_config(
        write_config(
            tmp_path,
            newsletter={
                "title": "The Test Reel",
                "from": "news@reel.example.org",
                "base_url": "https://reel.example.org",
                "timezone": "Europe/Berlin",
                "quiet_week": True,
            },
        )
    )
    add_subscribers(config, 2)
    result = run_once(config, now=NOW)
    assert result.outcome == "sent" and result.sent == 2 and result.reviews == 0


def test_fail_closed_when_the_ledger_cannot_record_the_issue(tmp_path: Path) -> None:
    config = _config(tmp_path)
    add_subscribers(config, 3)
    conn = db.connect(config.state)
    # A real write failure in the middle of the one transaction (as a full disk would be).
    conn.execute(
        "CREATE TRIGGER full BEFORE INSERT ON deliveries "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with pytest.raises(StateError, match=str(config.state)) as err:
        run_once(config, now=NOW)
    assert "disk is full" in str(err.value)
    assert conn.execute("SELECT count(*) FROM issues").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM issue_reviews").fetchone()[0] == 0
    assert _outbox(config) == []
    conn.execute("DROP TRIGGER full")
    assert run_once(config, now=NOW).sent == 3


def test_an_unreadable_state_file_fails_closed_naming_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.state.parent.mkdir(parents=True)
    config.state.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StateError, match=str(config.state)):
        run_once(config, now=NOW)
    assert _outbox(config) == []


def test_a_started_issue_resumes_from_the_stored_rendering(
    tmp_path: Path, state_value: str
) -> None:
    config = _config(tmp_path, state=state_value)
    emails = add_subscribers(config, 5)
    r = rendered_digest(config, subject="Stored subject, not re-rendered")
    record(config, r)
    conn = db.connect(config.state)
    # A crash left one row "sending" after its file was written, and one "sent".
    first, second = conn.execute(
        "SELECT subscriber_id, email FROM deliveries ORDER BY subscriber_id LIMIT 2"
    ).fetchall()
    from digest.deliver.message import MessageTemplate, Recipient

    t = MessageTemplate(
        config=config,
        issue_key="2026-W48",
        subject=r.subject,
        html_body=r.html,
        text_body=r.text,
        markers=r.markers,
        date=NOW,
        nonce=_stored_nonce(conn),  # the issue's own, as the crashed sender had it
    )
    session = MaildirTransport(config.outbox).open()
    crashed = db.connect(config.state)  # the sender that dies: its session claimed the rows
    claimed, _ = deliveries.claim(crashed, "2026-W48", 2, path=config.state)
    for c in claimed:
        data = t.render_copy(Recipient(c.email, c.name, c.token))
        session.send(t.sender, c.email, data, t.message_id(c.email))
    deliveries.record_outcomes(
        conn, "2026-W48", [deliveries.Outcome(first["subscriber_id"], "sent")], path=config.state
    )
    assert delivery_states(config, "2026-W48")[second["email"]][0] == "sending"
    crashed.close()
    result = run_once(config, now=NOW)
    assert result.outcome == "sent" and result.reviews == 0  # the stored issue, not a new one
    files = _outbox(config)
    assert sorted(_to(f) for f in files) == sorted(emails)  # exactly one each
    assert all(b"Subject: Stored subject, not re-rendered" in f for f in files)
    assert ledger.sent_review_ids(conn) == frozenset()  # the folder's reviews were never used


def _stored_nonce(conn: db.Connection) -> str:
    issue = ledger.get_issue(conn, "2026-W48")
    assert issue is not None and issue.nonce
    return issue.nonce


def test_an_unsubscribe_landing_mid_send_stops_later_copies(
    tmp_path: Path, state_value: str
) -> None:
    config = _config(tmp_path, state=state_value)
    emails = add_subscribers(config, 6)
    record(config, rendered_digest(config))
    leaving = emails[4]
    conn = db.connect(config.state)
    token = subscribers.get(conn, leaving).token  # type: ignore[union-attr]

    def after(n: int) -> None:
        if n == 2:  # as if the reader clicked the one-click link right now
            other = db.connect(config.state)
            subscribers.unsubscribe_by_token(other, token)
            other.close()

    result = run_once(config, now=NOW, transport=HookedMaildir(config.outbox, after))
    assert result.sent == 5 and result.skipped == 1
    assert leaving not in {_to(f) for f in _outbox(config)}
    assert delivery_states(config, "2026-W48")[leaving] == ("skipped", "subscriber is unsubscribed")


def test_stop_finishes_the_copy_in_flight_and_the_next_run_sends_the_rest(
    tmp_path: Path, state_value: str
) -> None:
    config = _config(tmp_path, state=state_value)
    emails = add_subscribers(config, 10)
    record(config, rendered_digest(config))
    stop = threading.Event()

    def after(n: int) -> None:
        if n == 3:
            stop.set()

    result = run_once(config, now=NOW, transport=HookedMaildir(config.outbox, after), stop=stop)
    assert result.outcome == "stopped" and result.sent == 3
    states = delivery_states(config, "2026-W48")
    assert sorted(s for s, _ in states.values()) == ["pending"] * 7 + ["sent"] * 3
    assert run_once(config, now=NOW).sent == 7
    assert sorted(_to(f) for f in _outbox(config)) == sorted(emails)


def test_two_senders_at_once_never_double_send(tmp_path: Path, state_value: str) -> None:
    config = _config(tmp_path, state=state_value)
    emails = add_subscribers(config, 40)
    record(config, rendered_digest(config))
    results = []
    gate = threading.Barrier(2)

    def go() -> None:
        gate.wait()
        results.append(run_once(config, now=NOW))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(_to(f) for f in _outbox(config)) == sorted(emails)
    assert sum(r.sent for r in results) == 40


def test_row_claims_are_atomic_across_connections(tmp_path: Path, state_value: str) -> None:
    config = _config(tmp_path, state=state_value)
    add_subscribers(config, 300)
    record(config, rendered_digest(config))
    got: list[list[int]] = [[], []]
    # Both sessions stay open until both are done: on PostgreSQL a claimer whose session has
    # ended counts as dead, and its claimed rows are handed out again (as after a crash).
    conns = [db.connect(config.state) for _ in range(2)]

    def claimer(i: int) -> None:
        conn = conns[i]
        while True:
            claimed, _ = deliveries.claim(conn, "2026-W48", 7, path=config.state)
            if not claimed:
                return
            got[i].extend(c.subscriber_id for c in claimed)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for conn in conns:
        conn.close()
    assert not set(got[0]) & set(got[1])
    assert len(got[0]) + len(got[1]) == 300


def test_cli_dry_run_test_copy_send_and_history(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    # The CLI reads the real clock, so the reviews are dated from it, not from NOW.
    write_reviews(tmp_path / "reviews", 2, published=datetime.now(UTC) - timedelta(hours=6))
    csv = tmp_path / "subs.csv"
    csv.write_text("email,name\nada@example.org,Ada\nbad-address,Nope\nbo@example.net,Bo\n")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> str:
        out = runner.invoke(cli, ["--config", str(path), *args], input=input)
        assert out.exit_code == 0, out.output + repr(out.exception)
        return out.output

    assert "imported 2 new subscribers" in run("subscribers", "import", str(csv))
    run("subscribers", "add", "cy@example.org", "--name", "Cy")
    run("subscribers", "remove", "bo@example.net")
    listing = run("subscribers", "list", "--status", "active")
    assert "ada@example.org" in listing and "bo@example.net" not in listing
    config = load_config(path)
    dry = run("send", "--dry-run")
    assert "2026-W" in dry and "ada@example.org" in dry and "cy@example.org" in dry
    assert not config.state.exists() or _issue_count(config) == 0
    assert _outbox(config) == []
    test_copy = run("send", "--to", "editor@example.org")
    assert "test copy" in test_copy
    [copy] = _outbox(config)
    assert b"Subject: [TEST] " in copy and b"To: editor@example.org" in copy
    assert _issue_count(config) == 0  # the real issue's ledger is untouched
    cancelled = runner.invoke(cli, ["--config", str(path), "send"], input="n\n")
    assert "Send it?" in cancelled.output and _issue_count(config) == 0
    sent = run("send", "--yes")
    assert "2 sent, 0 deferred, 0 failed, 0 unknown" in sent
    assert "already sent to 2 subscribers" in run("send", "--yes")
    history = run("history")
    assert "2026-W" in history and "done" in history
    assert "Runs, newest first" in history and "already-sent" in history


def _issue_count(config: Config) -> int:
    conn = sqlite3.connect(config.state)
    try:
        return int(conn.execute("SELECT count(*) FROM issues").fetchone()[0])
    finally:
        conn.close()


def test_when_every_source_fails_nothing_is_recorded_and_send_exits_1(tmp_path: Path) -> None:
    path = write_config(tmp_path, sources=[{"type": "folder", "path": "no-such-folder"}])
    config = load_config(path)
    add_subscribers(config, 2)
    out = CliRunner().invoke(cli, ["--config", str(path), "send", "--yes"])
    assert out.exit_code == 1
    assert "the only source failed" in out.output and "no-such-folder" in out.output
    assert _issue_count(config) == 0 and _outbox(config) == []


def test_an_older_unfinished_issue_is_reported_and_resumed_by_key(tmp_path: Path) -> None:
    from datetime import timedelta

    from digest.period import current_period

    config = _config(tmp_path)
    emails = add_subscribers(config, 3)
    last_week = dataclasses.replace(
        rendered_digest(config), period=current_period(config, NOW - timedelta(days=7))
    )
    assert last_week.period.key == "2026-W47"
    record(config, last_week)  # recorded, never sent (say the server was down all week)
    result = run_once(config, now=NOW)
    assert result.issue_id == "2026-W48" and result.unfinished == ("2026-W47",)
    old = run_once(config, now=NOW, issue="2026-W47")
    assert old.issue_id == "2026-W47" and old.sent == 3 and old.unfinished == ()
    assert len(_outbox(config)) == 6
    assert sorted(_to(f) for f in _outbox(config)) == sorted(emails * 2)
    with pytest.raises(DeliveryError, match="no issue 2026-W01 to resume"):
        run_once(config, now=NOW, issue="2026-W01")


def test_no_active_subscribers_records_nothing_and_keeps_the_reviews(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = run_once(config, now=NOW)
    assert result.outcome == "no-subscribers"
    assert "digest subscribers import" in result.message
    conn = db.connect(config.state)
    assert ledger.get_issue(conn, "2026-W48") is None
    assert ledger.sent_review_ids(conn) == frozenset()
    emails = add_subscribers(config, 2)
    later = run_once(config, now=NOW)
    assert (later.outcome, later.sent, later.reviews) == ("sent", 2, 3)
    assert sorted(_to(f) for f in _outbox(config)) == sorted(emails)


def test_message_date_is_when_it_went_out_not_the_scheduled_time(tmp_path: Path) -> None:
    config = _config(tmp_path)
    add_subscribers(config, 1)
    scheduled = NOW - timedelta(hours=5)  # a catch-up run, keyed to the time it was due
    assert run_once(config, now=scheduled, trigger="catch-up").outcome == "sent"
    [data] = _outbox(config)
    date_line = data.split(b"\r\nDate: ", 1)[1].split(b"\r\n", 1)[0].decode()
    sent_at = email.utils.parsedate_to_datetime(date_line)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=5)


def test_dry_run_with_no_subscribers_says_what_a_real_send_would_do(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    write_reviews(tmp_path / "reviews", 2, published=datetime.now(UTC) - timedelta(hours=6))
    result = CliRunner().invoke(cli, ["--config", str(path), "send", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "no active subscribers" in result.output
    assert "digest subscribers import" in result.output
    assert _issue_count(load_config(path)) == 0


def test_a_test_copy_is_filed_under_the_message_id_in_its_header(tmp_path: Path) -> None:
    """A test copy's Message-ID has a random part: the one in its header is the one the Maildir
    outbox files it under (``MaildirTransport.key_for``), not a second one made for the send."""
    path = write_config(tmp_path)
    write_reviews(tmp_path / "reviews", 2, published=datetime.now(UTC) - timedelta(hours=6))
    out = CliRunner().invoke(cli, ["--config", str(path), "send", "--to", "editor@example.org"])
    assert out.exit_code == 0, out.output
    config = load_config(path)
    [name] = [p.name for p in (config.outbox / "new").iterdir()]
    [data] = _outbox(config)
    header = email.message_from_bytes(data)["Message-ID"]
    assert ".test@" in header  # a test copy: the id with its random part
    assert name.startswith(MaildirTransport.key_for(header))
