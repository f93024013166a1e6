"""Every scheduled firing across a DST change is sent once or recorded as missed — never nothing.

A pinned clock in Europe/Berlin with ``30 2 * * sun``: on 28 March 2027 02:30 does not exist
(it fires at 03:30 CEST), on 31 October 2027 it happens twice. The scheduler is replayed as
APScheduler runs it — the start-up tick at the (re)start, then the trigger's own next fire
time after each run, ``trigger.get_next_fire_time(last, now)`` — on the real trigger, a real
SQLite ledger and a real Maildir outbox.
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
    review_text,
    write_config,
    write_reviews,
)

from digest.config import Config
from digest.schedule.cron import build_trigger
from digest.schedule.tick import tick

BERLIN = ZoneInfo("Europe/Berlin")


def run_scheduler(config: Config, start: datetime, until: datetime) -> list[datetime]:
    """A scheduler (re)started at ``start`` and stopped at ``until``; returns its firings."""
    trigger = build_trigger(config)
    tick(config, now=start, trigger=trigger)  # the start-up catch-up
    fires = []
    fire = trigger.get_next_fire_time(start, start)
    while fire is not None and fire.astimezone(UTC) <= until.astimezone(UTC):
        tick(config, now=fire, trigger=trigger)
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires


def runs_for(config: Config, key: str) -> list[str]:
    rows = query(config, "SELECT outcome FROM runs WHERE issue_id = ? ORDER BY id", key)
    return [r["outcome"] for r in rows]


def issue_status(config: Config, key: str) -> str | None:
    rows = query(config, "SELECT status FROM issues WHERE id = ?", key)
    return rows[0]["status"] if rows else None


@pytest.mark.parametrize("before", ["sent", "fresh"])
@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        ("03:00", "sent"),  # the first instant after the gap
        ("03:10", "sent"),
        ("03:29", "sent"),  # a minute before the shifted firing
        ("05:00", "sent"),  # after it, inside the 6 h grace: caught up
        ("10:00", "missed"),  # after it, beyond the grace: recorded
    ],
)
def test_a_scheduler_restarted_after_the_spring_gap_sends_that_week_or_records_it_missed(
    tmp_path: Path, restart: str, expected: str, before: str
) -> None:
    config = write_config(tmp_path, cron="30 2 * * sun", grace="6h")
    add_subscribers(config, 3)
    write_reviews(config, [datetime(2027, 3, 18, 12, tzinfo=BERLIN)])  # for week 11
    if before == "sent":  # the scheduler ran last week, then was stopped
        saturday = datetime(2027, 3, 20, 12, tzinfo=BERLIN)
        run_scheduler(config, saturday, saturday + timedelta(days=1))
        assert issue_status(config, "2027-W11") == "done"
    week_12 = review_text("Week Twelve Picture", datetime(2027, 3, 25, 12, tzinfo=BERLIN))
    (config.folder / "reviews" / "week-12.txt").write_text(week_12, encoding="utf-8")
    hour, minute = map(int, restart.split(":"))
    start = datetime(2027, 3, 28, hour, minute, tzinfo=BERLIN)
    assert start.utcoffset() == timedelta(hours=2)  # after the gap: CEST
    run_scheduler(config, start, datetime(2027, 4, 5, 12, tzinfo=BERLIN))

    assert runs_for(config, "2027-W12"), "the week left no trace"
    if expected == "sent":
        assert issue_status(config, "2027-W12") == "done"
        assert "sent" in runs_for(config, "2027-W12")
        subjects = {s for _, s in maildir_copies(config)}
        assert any("Week Twelve Picture" in s for s in subjects)
    else:
        assert issue_status(config, "2027-W12") is None
        detail = query(config, "SELECT detail FROM runs WHERE issue_id = '2027-W12'")
        assert runs_for(config, "2027-W12") == ["skipped"]
        assert "was due Sun 28 Mar 2027 03:30 CEST" in detail[0]["detail"]
    assert issue_status(config, "2027-W13") in ("done", "empty")  # the week after runs too
    assert set(maildir_copies(config).values()) <= {1}


@pytest.mark.parametrize("start", ["2027-10-30T12:00", "2027-10-31T02:10"])
def test_the_repeated_autumn_hour_fires_once_and_sends_the_week_once(
    tmp_path: Path, start: str
) -> None:
    config = write_config(tmp_path, cron="30 2 * * sun", grace="6h")
    emails = add_subscribers(config, 3)
    write_reviews(config, [datetime(2027, 10, 28, 12, tzinfo=BERLIN)])
    # 02:10 on the 31st: the second pass through the hour (CET), after the first 02:30 (CEST)
    # went by while the process was down.
    begin = datetime.fromisoformat(start).replace(tzinfo=BERLIN, fold=1)
    fires = run_scheduler(config, begin, datetime(2027, 11, 1, 12, tzinfo=BERLIN))

    on_the_day = [f for f in fires if f.astimezone(BERLIN).date() == datetime(2027, 10, 31).date()]
    assert len(on_the_day) == (1 if begin.day == 30 else 0)  # 02:30 CEST, not again at 02:30 CET
    assert issue_status(config, "2027-W43") == "done"
    assert runs_for(config, "2027-W43") == ["sent"]
    assert Counter(to for to, _ in maildir_copies(config)) == dict.fromkeys(emails, 1)
