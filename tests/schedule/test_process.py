"""Real processes against real loopback servers: ``kill -9`` mid-issue and a restart, two
schedulers at once, SIGTERM in the middle of a send, and ``digest schedule`` end to end.

Each test waits for an observable state (messages at the sink, rows in the ledger, a process
exit) with a generous deadline; nothing asserts on how long anything took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.feeds import rss, rss_item
from support.http import ScriptedServer
from support.scheduling import add_subscribers, query, write_config, write_reviews
from support.smtp import Sink

from digest.config import Config
from digest.deliver.loop import crash_window
from digest.schedule.tick import tick

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
#: A fixed clock for the processes that take one (``tick`` in a child process).
FIXED = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)


def wait_for(check: Callable[[], bool], what: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@contextmanager
def digest_process(config: Config, *args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m digest --config … <args>``, stderr to ``log``; killed if still running."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(config.path), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def copies_per_reader(sink: Sink) -> Counter[str]:
    return Counter(rcpt for r in sink.received for rcpt in r.rcpt_tos)


def message_ids_per_reader(sink: Sink) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for r in sink.received:
        for rcpt in r.rcpt_tos:
            ids.setdefault(rcpt, set()).add(str(r.message["Message-ID"]))
    return ids


TICK_AT = (
    "import sys; from datetime import datetime; from digest.config import load_config; "
    "from digest.schedule.tick import tick; "
    "tick(load_config(sys.argv[1]), now=datetime.fromisoformat(sys.argv[2]))"
)


def test_kill_9_in_the_middle_of_an_issue_then_restart_resumes_without_duplicates(
    tmp_path: Path,
) -> None:
    with Sink() as sink:
        # One connection, five messages a second: the kill lands mid-issue.
        config = write_config(tmp_path, smtp_port=sink.port, smtp={"connections": 1, "rate": 5})
        write_reviews(config, [FIXED - timedelta(days=3)])
        emails = add_subscribers(config, 25)
        with open(tmp_path / "child.log", "wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-c", TICK_AT, str(config.path), FIXED.isoformat()], stderr=err
            )
            try:
                wait_for(lambda: len(sink.received) >= 5, "the first messages at the sink")
                os.kill(child.pid, signal.SIGKILL)
            finally:
                child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        before = len(sink.received)
        assert before < len(emails), "the issue finished before the kill; nothing was tested"
        (issue,) = query(config, "SELECT id, status FROM issues")
        assert (issue["id"], issue["status"]) == ("2026-W48", "sending")

        # Restart an hour later, still inside the grace (and without the rate limit, to be
        # quick): the tick resumes the same issue.
        config = write_config(tmp_path, smtp_port=sink.port, smtp={"connections": 1})
        report = tick(config, now=FIXED + timedelta(hours=1))

        assert [(r.issue_id, r.outcome) for r in report.results] == [("2026-W48", "sent")]
        ids = message_ids_per_reader(sink)
        assert set(ids) == set(emails)
        # One message per subscriber: a copy sent again after the kill carries the same
        # Message-ID (the one in flight when the process died), so receivers fold it.
        assert all(len(v) == 1 for v in ids.values())
        repeats = [rcpt for rcpt, n in copies_per_reader(sink).items() if n > 1]
        # At most the copies claimed and not yet committed (the crash window; with a rate of
        # 5/s and commits every COMMIT_AFTER seconds, a few); tests/deliver/test_kill.py
        # checks the bound against a list far bigger than the window.
        assert len(repeats) <= crash_window(1)
    statuses = Counter(r["status"] for r in query(config, "SELECT status FROM deliveries"))
    assert statuses == {"sent": len(emails)}
    assert query(config, "SELECT status FROM issues")[0]["status"] == "done"


def daily_a_minute_ago() -> dict[str, str]:
    """A daily cron whose latest firing was a minute ago: the start-up tick runs it at once
    (the cadence rule refuses a cron firing every minute for a weekly issue)."""
    due = datetime.now(BERLIN) - timedelta(minutes=1)
    return {"cron": f"{due.minute} {due.hour} * * *", "cadence": "daily", "grace": "6h"}


def test_two_schedulers_started_at_once_send_one_issue(tmp_path: Path) -> None:
    with Sink() as sink:
        config = write_config(tmp_path, **daily_a_minute_ago(), smtp_port=sink.port)
        write_reviews(config, [datetime.now(UTC) - timedelta(hours=3)])
        emails = add_subscribers(config, 6)
        with (
            digest_process(config, "schedule", log=tmp_path / "a.log") as a,
            digest_process(config, "schedule", log=tmp_path / "b.log") as b,
        ):
            # The loser waits briefly for the lock, then exits with a clear message.
            wait_for(lambda: a.poll() is not None or b.poll() is not None, "one to give up")
            loser, winner, loser_log = (a, b, "a.log") if a.poll() is not None else (b, a, "b.log")
            assert loser.returncode == 1
            message = (tmp_path / loser_log).read_text()
            assert "another digest is running (pid " in message
            assert f"pid {winner.pid}," in message
            assert "Traceback" not in message

            wait_for(lambda: len(sink.received) >= len(emails), "one copy per subscriber")
            wait_for(
                lambda: (
                    [r["status"] for r in query(config, "SELECT status FROM issues")] == ["done"]
                ),
                "the issue to be recorded done",
            )
            winner.send_signal(signal.SIGINT)  # Ctrl-C stops it as cleanly as SIGTERM
            assert winner.wait(timeout=30) == 0
        assert copies_per_reader(sink) == dict.fromkeys(emails, 1)


def test_sigterm_mid_send_finishes_the_message_in_flight_and_exits_0(tmp_path: Path) -> None:
    with Sink() as sink:
        schedule = daily_a_minute_ago()
        config = write_config(
            tmp_path, **schedule, smtp_port=sink.port, smtp={"connections": 1, "rate": 4}
        )
        write_reviews(config, [datetime.now(UTC) - timedelta(hours=3)])
        emails = add_subscribers(config, 30)
        with digest_process(config, "schedule", log=tmp_path / "schedule.log") as proc:
            wait_for(lambda: len(sink.received) >= 3, "the first messages at the sink")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        delivered = copies_per_reader(sink)
        assert len(delivered) < len(emails), "the issue finished before the stop"
        rows = {r["email"]: r["status"] for r in query(config, "SELECT * FROM deliveries")}
        # Every copy that left is recorded sent; none is left in the unknowable "sending".
        assert {e for e, s in rows.items() if s == "sent"} == set(delivered)
        assert set(rows.values()) <= {"sent", "pending"}
        log = (tmp_path / "schedule.log").read_text()
        assert "SIGTERM" in log and "scheduler stopped" in log
        assert "outcome=stopped" in log

        # The next start (without the rate limit, to be quick) finishes the issue: everyone
        # has exactly one copy.
        config = write_config(tmp_path, **schedule, smtp_port=sink.port)
        with digest_process(config, "run", log=tmp_path / "run.log") as run:
            assert run.wait(timeout=60) == 0
        assert copies_per_reader(sink) == dict.fromkeys(emails, 1)
    assert query(config, "SELECT status FROM issues")[0]["status"] == "done"


def test_digest_schedule_end_to_end_with_a_feed_and_an_smtp_sink(tmp_path: Path) -> None:
    published = format_datetime(datetime.now(UTC) - timedelta(hours=5))
    feed = rss(rss_item(date=published, guid="e2e-1"))
    server = ScriptedServer().start()
    try:
        server.route("/feed.xml", body=feed, headers={"Content-Type": "application/rss+xml"})
        with Sink() as sink:
            # Fires every three seconds; the grace keeps the start-up run from being a skip.
            config = write_config(
                tmp_path,
                cron="* * * * *",
                second="*/3",
                grace="1h",
                smtp_port=sink.port,
                feed_url=server.url("/feed.xml"),
            )
            emails = add_subscribers(config, 4)
            log = tmp_path / "schedule.log"
            with digest_process(config, "schedule", log=log) as proc:
                wait_for(lambda: len(sink.received) >= len(emails), "one copy per subscriber")
                # Later firings run too, find the week's issue sent, and send nothing.
                wait_for(lambda: "outcome=already-sent" in log.read_text(), "a later scheduled run")
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0
            assert copies_per_reader(sink) == dict.fromkeys(emails, 1)
            subjects = {str(r.message["Subject"]) for r in sink.received}
            assert len(subjects) == 1 and "Harbour Lights" in subjects.pop()
    finally:
        server.stop()
    (issue,) = query(config, "SELECT id, status, review_count FROM issues")
    assert (issue["status"], issue["review_count"]) == ("done", 1)
    outcomes = [r["outcome"] for r in query(config, "SELECT outcome FROM runs ORDER BY id")]
    assert outcomes[0] == "sent" and set(outcomes[1:]) == {"already-sent"}
    text = log.read_text()
    assert f"issue={issue['id']}" in text and "outcome=sent" in text
    assert "Traceback" not in text


def test_a_manual_send_beside_a_scheduled_run_sends_each_copy_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from digest.pipeline.run import run_once

    with Sink() as sink:
        config = write_config(tmp_path, smtp_port=sink.port, smtp={"connections": 2, "rate": 20})
        write_reviews(config, [FIXED - timedelta(days=2)])
        emails = add_subscribers(config, 20)
        with ThreadPoolExecutor(2) as pool:
            scheduled = pool.submit(tick, config, now=FIXED)
            wait_for(lambda: len(sink.received) >= 1, "the scheduled run to start sending")
            manual = pool.submit(run_once, config, now=FIXED + timedelta(hours=3))
            tick_report, manual_result = scheduled.result(), manual.result()
        # Whichever got there second stood aside (busy) or found the issue already sent.
        assert [r.outcome for r in tick_report.results] == ["sent"]
        assert manual_result.outcome in ("busy", "already-sent")
        assert copies_per_reader(sink) == dict.fromkeys(emails, 1)
    assert [r["id"] for r in query(config, "SELECT id FROM issues")] == ["2026-W48"]


def test_a_run_that_finds_every_source_down_is_retried_soon_not_next_week(
    tmp_path: Path,
) -> None:
    import shutil
    import threading

    from digest.schedule.scheduler import run_scheduler

    # A daily time five minutes ago: due at start-up, and not again during the test, so only
    # the retry can send.
    due = datetime.now(BERLIN) - timedelta(minutes=5)
    with Sink() as sink:
        config = write_config(
            tmp_path,
            cron=f"{due.minute} {due.hour} * * *",
            cadence="daily",
            grace="1h",
            smtp_port=sink.port,
        )
        emails = add_subscribers(config, 3)
        reviews = config.folder / "reviews"
        write_reviews(config, [datetime.now(UTC) - timedelta(hours=3)])
        shutil.move(reviews, tmp_path / "elsewhere")  # the only source is missing
        stop = threading.Event()
        scheduler = threading.Thread(
            target=run_scheduler,
            args=(config,),
            kwargs={"stop": stop, "retry_first": timedelta(seconds=1)},
        )
        scheduler.start()
        try:
            wait_for(
                lambda: any(
                    r["outcome"] == "no-sources" for r in query(config, "SELECT * FROM runs")
                ),
                "the first run to find no source",
            )
            shutil.move(tmp_path / "elsewhere", reviews)  # the source comes back
            wait_for(lambda: len(sink.received) >= len(emails), "the retry to send")
        finally:
            stop.set()
            scheduler.join(timeout=60)
        assert not scheduler.is_alive()
        assert copies_per_reader(sink) == dict.fromkeys(emails, 1)
    outcomes = [r["outcome"] for r in query(config, "SELECT outcome FROM runs ORDER BY id")]
    assert outcomes[0] == "no-sources" and "sent" in outcomes
