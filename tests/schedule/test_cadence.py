"""Daily and monthly cadences: one issue per period, keyed by the day or the month, across a
DST change (Europe/Berlin leaves summer time on Sunday 25 October 2026) and restarts — each
restart is a start-up tick, at the firing and hours after it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from support.clock import BERLIN
from support.scheduling import add_subscribers, maildir_copies, query, write_config, write_reviews

from digest.schedule.tick import tick


def test_a_daily_cadence_sends_one_issue_a_day_across_the_autumn_change(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * *", cadence="daily")
    days = [datetime(2026, 10, d, 8, 0, tzinfo=BERLIN) for d in range(23, 28)]
    # One review the evening before each firing; one in the repeated hour 02:30 of the 25th.
    published = [day - timedelta(hours=12) for day in days]
    published[2] = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    write_reviews(config, published)
    readers = add_subscribers(config, 2)
    for day in days:
        for restart in (timedelta(0), timedelta(minutes=30), timedelta(hours=5)):
            tick(config, now=day + restart)
    issues = query(config, "SELECT id, status, review_count FROM issues ORDER BY id")
    assert [(r["id"], r["status"], r["review_count"]) for r in issues] == [
        (f"2026-10-{d}", "done", 1) for d in range(23, 28)
    ]
    per_reader = Counter(to for to, _subject in maildir_copies(config).elements())
    assert per_reader == dict.fromkeys(readers, len(days))
    outcomes = Counter(r["outcome"] for r in query(config, "SELECT outcome FROM runs"))
    assert outcomes == {"sent": 5, "already-sent": 10}
    # The 25th is 25 hours long in Berlin; its issue covered exactly that day's window.
    (row,) = query(config, "SELECT period_start, period_end FROM issues WHERE id = '2026-10-25'")
    start, end = (datetime.fromisoformat(v) for v in (row["period_start"], row["period_end"]))
    assert end - start == timedelta(hours=25)


def test_a_monthly_cadence_sends_one_issue_a_month_across_the_change(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 1 * *", cadence="monthly")
    firsts = [datetime(2026, m, 1, 8, 0, tzinfo=BERLIN) for m in (10, 11, 12)]
    titles = write_reviews(
        config,
        [
            datetime(2026, 9, 20, 12, 0, tzinfo=BERLIN),
            datetime(2026, 10, 26, 12, 0, tzinfo=BERLIN),  # the day after the change
            datetime(2026, 11, 15, 12, 0, tzinfo=BERLIN),
        ],
    )
    readers = add_subscribers(config, 2)
    for first in firsts:
        tick(config, now=first)
        tick(config, now=first + timedelta(hours=1))  # a restart
        tick(config, now=first + timedelta(days=12))  # a restart mid-month: nothing due
    issues = query(config, "SELECT id, status FROM issues ORDER BY id")
    assert [(r["id"], r["status"]) for r in issues] == [
        ("2026-10", "done"),
        ("2026-11", "done"),
        ("2026-12", "done"),
    ]
    carried = query(config, "SELECT issue_id, title FROM issue_reviews ORDER BY issue_id")
    assert sorted({(r["issue_id"], r["title"]) for r in carried}) == [
        ("2026-10", titles[0]),
        ("2026-11", titles[1]),
        ("2026-12", titles[2]),
    ]
    per_reader = Counter(to for to, _subject in maildir_copies(config).elements())
    assert per_reader == dict.fromkeys(readers, 3)
    skipped = query(config, "SELECT * FROM runs WHERE outcome = 'skipped'")
    assert skipped == []  # a restart mid-month is not a missed month
