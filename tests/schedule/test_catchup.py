"""The scheduler's tick, driven by a sequence of explicit ``now`` values (no clock patching):
one issue per week across DST, catch-up inside the grace, a recorded skip outside it.

Each test uses a real SQLite ledger in tmp_path and delivers into a real Maildir outbox.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.scheduling import (
    add_subscribers,
    maildir_copies,
    query,
    write_config,
    write_reviews,
)

from digest.period import period_key
from digest.schedule.cron import build_trigger, fires_between
from digest.schedule.tick import tick

BERLIN = ZoneInfo("Europe/Berlin")


def weekly_walk(tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The ``now`` values a weekly scheduler meets: each Monday 08:00 firing, a restart two
    hours later (inside the grace), and a restart mid-week (outside it)."""
    nows = []
    day = start
    while day < end:
        fire = day.replace(hour=8, tzinfo=tz)
        nows += [fire, fire + timedelta(hours=2), fire + timedelta(days=2, hours=5)]
        day += timedelta(days=7)
    return nows


@pytest.mark.parametrize(
    ("tz", "mondays"),
    [
        # Three Mondays either side of each 2026 change (29 March, 25 October).
        ("Europe/Berlin", [(datetime(2026, 3, 16), 3), (datetime(2026, 10, 19), 3)]),
        ("Europe/London", [(datetime(2026, 3, 23), 2), (datetime(2026, 10, 19), 2)]),
    ],
)
def test_weekly_runs_across_dst_changes_send_one_issue_per_week(
    tmp_path: Path, tz: str, mondays: list[tuple[datetime, int]]
) -> None:
    config = write_config(tmp_path, tz=tz, cron="0 8 * * mon")
    zone = config.newsletter.tz
    nows: list[datetime] = []
    for first, weeks in mondays:
        nows += weekly_walk(zone, first, first + timedelta(days=7 * weeks))
    # One review published each week, on the Thursday before the Monday it belongs to.
    fires = sorted({n for n in nows if n.hour == 8 and n.minute == 0 and n.weekday() == 0})
    write_reviews(config, [f - timedelta(days=4) for f in fires])
    emails = add_subscribers(config, 3)

    for now in nows:
        tick(config, now=now)

    expected = {period_key(config, f) for f in fires}
    issues = {r["id"]: r["status"] for r in query(config, "SELECT id, status FROM issues")}
    assert issues == dict.fromkeys(expected, "done")
    copies = maildir_copies(config)
    assert set(copies.values()) == {1}, "a subscriber got some issue twice"
    per_reader = Counter(to for to, _ in copies)
    assert per_reader == dict.fromkeys(emails, len(expected))
    # The months between the two walks look like downtime: recorded as skipped, but never
    # one of the weeks that ran.
    skipped = {r["issue_id"] for r in query(config, "SELECT * FROM runs WHERE outcome = 'skipped'")}
    assert skipped and not skipped & expected
    # The restart inside the grace found the week already sent and said so.
    already = query(config, "SELECT issue_id FROM runs WHERE outcome = 'already-sent'")
    assert {r["issue_id"] for r in already} == expected


def test_the_repeated_autumn_hour_fires_once_and_sends_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="30 2 * * sun")
    write_reviews(config, [datetime(2026, 10, 22, 12, tzinfo=BERLIN)])
    emails = add_subscribers(config, 2)
    trigger = build_trigger(config)
    fires = fires_between(
        trigger, datetime(2026, 10, 24, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    )
    assert [f.astimezone(UTC).hour for f in fires] == [0]  # 02:30 CEST, not again at 02:30 CET

    # A tick at 02:30 CET all the same (a restart then) finds the week sent.
    for now in (fires[0], datetime(2026, 10, 25, 1, 30, tzinfo=UTC)):
        tick(config, now=now)

    assert [r["id"] for r in query(config, "SELECT id FROM issues")] == ["2026-W43"]
    outcomes = [r["outcome"] for r in query(config, "SELECT outcome FROM runs ORDER BY id")]
    assert outcomes == ["sent", "already-sent"]
    assert Counter(to for to, _ in maildir_copies(config)) == dict.fromkeys(emails, 1)


def test_a_time_in_the_skipped_spring_hour_still_sends_that_week(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="30 2 * * sun")
    write_reviews(config, [datetime(2026, 3, 26, 12, tzinfo=BERLIN)])
    add_subscribers(config, 2)
    # 02:30 does not exist on 29 March 2026 in Berlin; the trigger fires at 03:30 CEST.
    fire = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    tick(config, now=fire)
    assert [r["id"] for r in query(config, "SELECT id FROM issues WHERE status = 'done'")] == [
        "2026-W13"
    ]
    assert len(maildir_copies(config)) == 2


def test_a_run_missed_inside_the_grace_runs_once_keyed_to_the_missed_week(
    tmp_path: Path,
) -> None:
    # Sunday 22:00; the process comes back at Monday 02:00, already the next ISO week.
    config = write_config(tmp_path, cron="0 22 * * sun", grace="6h")
    fire = datetime(2026, 11, 22, 22, 0, tzinfo=BERLIN)
    back = datetime(2026, 11, 23, 2, 0, tzinfo=BERLIN)
    titles = write_reviews(
        config,
        [
            datetime(2026, 11, 19, 12, tzinfo=BERLIN),  # inside the missed week
            datetime(2026, 11, 23, 1, 0, tzinfo=BERLIN),  # after the firing: next week's
        ],
    )
    emails = add_subscribers(config, 2)

    report = tick(config, now=back)

    assert [(r.issue_id, r.outcome) for r in report.results] == [("2026-W47", "sent")]
    (issue,) = query(config, "SELECT * FROM issues")
    assert issue["id"] == "2026-W47"
    assert datetime.fromisoformat(issue["period_end"]) == fire
    carried = [r["title"] for r in query(config, "SELECT title FROM issue_reviews")]
    assert carried == [titles[0]]
    (run,) = query(config, "SELECT * FROM runs")
    assert (run["trigger"], run["issue_id"], run["outcome"]) == ("catch-up", "2026-W47", "sent")

    # Restarting again an hour later sends nothing more.
    tick(config, now=back + timedelta(hours=1))
    assert Counter(to for to, _ in maildir_copies(config)) == dict.fromkeys(emails, 1)

    # The next week's firing carries the review published after the missed one.
    tick(config, now=datetime(2026, 11, 29, 22, 0, tzinfo=BERLIN))
    week48 = query(config, "SELECT title FROM issue_reviews WHERE issue_id = '2026-W48'")
    assert [r["title"] for r in week48] == [titles[1]]


def test_a_run_missed_beyond_the_grace_is_skipped_with_the_reason_recorded(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    write_reviews(config, [datetime(2026, 11, 19, 12, tzinfo=BERLIN)])
    add_subscribers(config, 2)
    back = datetime(2026, 11, 23, 20, 0, tzinfo=BERLIN)  # 12 hours after Monday 08:00

    report = tick(config, now=back)
    tick(config, now=back + timedelta(hours=1))  # a second restart records nothing new

    assert report.results == ()
    assert [m.issue_id for m in report.missed] == ["2026-W48"]
    assert not query(config, "SELECT * FROM issues")
    assert not (config.outbox / "new").exists() or not any((config.outbox / "new").iterdir())
    (run,) = query(config, "SELECT * FROM runs")
    assert (run["issue_id"], run["outcome"]) == ("2026-W48", "skipped")
    assert run["detail"].startswith("missed by 12h, grace is 6h (was due Mon 23 Nov 2026 08:00")


def test_each_week_missed_while_down_is_recorded_never_silently_skipped(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    write_reviews(config, [datetime(2026, 11, 5, 12, tzinfo=BERLIN)])
    add_subscribers(config, 1)
    tick(config, now=datetime(2026, 11, 9, 8, 0, tzinfo=BERLIN))  # W46 sent on time
    # Down from then until Wednesday of W49.
    tick(config, now=datetime(2026, 12, 2, 12, 0, tzinfo=BERLIN))

    runs = query(config, "SELECT issue_id, outcome, detail FROM runs ORDER BY id")
    assert [(r["issue_id"], r["outcome"]) for r in runs] == [
        ("2026-W46", "sent"),
        ("2026-W47", "skipped"),
        ("2026-W48", "skipped"),
        ("2026-W49", "skipped"),
    ]
    assert runs[1]["detail"].startswith("missed by 16d, grace is 6h")
    assert runs[3]["detail"].startswith("missed by 2d, grace is 6h")


def test_an_interrupted_issue_of_an_earlier_week_is_resumed_at_start_up(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    write_reviews(config, [datetime(2026, 11, 19, 12, tzinfo=BERLIN)])
    emails = add_subscribers(config, 4)
    fire = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
    tick(config, now=fire)
    # Make the ledger look as a crash mid-send leaves it: the issue ``sending``, one copy
    # claimed with its fate unknown, one never started — and their messages not in the outbox.
    conn_rows = query(config, "SELECT subscriber_id, message_id FROM deliveries ORDER BY 1")
    lost = {str(r["message_id"]) for r in conn_rows[2:]}
    for key, message in list(_maildir(config)):
        if message["Message-ID"] in lost:
            _remove(config, key)
    from digest.state import db

    conn = db.connect(config.state)
    with db.transaction(conn):
        conn.execute("UPDATE issues SET status = 'sending', finished_at = NULL")
        conn.execute(
            "UPDATE deliveries SET status = 'sending' WHERE subscriber_id = ?",
            (conn_rows[2]["subscriber_id"],),
        )
        conn.execute(
            "UPDATE deliveries SET status = 'pending' WHERE subscriber_id = ?",
            (conn_rows[3]["subscriber_id"],),
        )
    conn.close()

    # The process comes back on Thursday: far beyond the grace, but a started issue is
    # always finished.
    report = tick(config, now=datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN))

    assert [(r.issue_id, r.outcome, r.sent) for r in report.results] == [("2026-W48", "sent", 2)]
    assert query(config, "SELECT status FROM issues")[0]["status"] == "done"
    assert Counter(to for to, _ in maildir_copies(config)) == dict.fromkeys(emails, 1)


def _maildir(config):  # type: ignore[no-untyped-def]
    import mailbox

    box = mailbox.Maildir(config.outbox, create=False)
    return list(box.items())


def _remove(config, key):  # type: ignore[no-untyped-def]
    import mailbox

    mailbox.Maildir(config.outbox, create=False).remove(key)


def test_each_run_logs_one_structured_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    write_reviews(config, [datetime(2026, 11, 19, 12, tzinfo=BERLIN)] * 2)
    add_subscribers(config, 3)
    caplog.set_level("INFO", logger="digest.schedule")

    tick(config, now=datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN))
    tick(config, now=datetime(2026, 11, 23, 20, 0, tzinfo=BERLIN))  # nothing due: no line
    tick(config, now=datetime(2026, 11, 30, 20, 0, tzinfo=BERLIN))  # missed: one line

    lines = [r.getMessage() for r in caplog.records if r.name == "digest.schedule"]
    assert len(lines) == 2
    fields = dict(part.split("=", 1) for part in lines[0].removeprefix("run ").split(" "))
    assert fields == {
        "issue": "2026-W48",
        "trigger": "schedule",
        "outcome": "sent",
        "reviews": "2",
        "recipients": "3",
        "sent": "3",
        "failed": "0",
        "deferred": "0",
        "duration": fields["duration"],
    }
    assert fields["duration"].endswith("s")
    assert lines[1].startswith("run issue=2026-W49 trigger=schedule outcome=skipped ")
    assert 'reason="missed by 12h, grace is 6h"' in lines[1]
