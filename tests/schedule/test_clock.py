"""The scheduler's tick when the clock jumps: forward by weeks, and back by a week.

Driven like tests/test_schedule_catchup.py: explicit ``now`` values (what the clock says at each
tick), a real SQLite ledger and a real Maildir outbox. The promises: every scheduled week ends
either sent once or recorded as skipped with the reason; no period gets a second issue; nothing
already sent goes out again, whatever the clock says.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from support.scheduling import add_subscribers, maildir_copies, query, write_config, write_reviews

from digest.config import Config
from digest.schedule.tick import tick

BERLIN = ZoneInfo("Europe/Berlin")


def monday(day: int, month: int = 11, hour: int = 8) -> datetime:
    when = datetime(2026, month, day, hour, tzinfo=BERLIN)
    assert when.weekday() == 0
    return when


def _issues(config: Config) -> dict[str, str]:
    return {r["id"]: r["status"] for r in query(config, "SELECT id, status FROM issues")}


def _runs(config: Config) -> list[tuple[str, str]]:
    rows = query(config, "SELECT issue_id, outcome FROM runs ORDER BY id")
    return [(r["issue_id"], r["outcome"]) for r in rows]


def _one_copy_of_each(config: Config, emails: list[str], issues: int) -> None:
    copies = maildir_copies(config)
    assert set(copies.values()) == {1}, "a subscriber got an issue twice"
    assert Counter(to for to, _ in copies) == dict.fromkeys(emails, issues)


def test_a_clock_jumping_forward_by_weeks_skips_the_jumped_weeks_with_reasons(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    # A review in every week from W47 to W52 (each the Thursday before its Monday).
    write_reviews(config, [monday(16) - timedelta(days=4) + timedelta(weeks=n) for n in range(6)])
    emails = add_subscribers(config, 3)

    tick(config, now=monday(16))  # W47 on time
    # The clock jumps three weeks and two hours ahead: W48-W50 were never due while it ran.
    jumped = tick(config, now=monday(14, 12, hour=10))

    assert [(m.issue_id, m.reason) for m in jumped.missed] == [
        ("2026-W48", "missed by 21d, grace is 6h"),
        ("2026-W49", "missed by 14d, grace is 6h"),
        ("2026-W50", "missed by 7d, grace is 6h"),
    ]
    assert [(r.issue_id, r.outcome) for r in jumped.results] == [("2026-W51", "sent")]
    # The same jumped tick repeated (a restart) and the following week record nothing twice.
    tick(config, now=monday(14, 12, hour=11))
    tick(config, now=monday(21, 12))

    assert _issues(config) == {
        "2026-W47": "done",
        "2026-W51": "done",
        "2026-W52": "done",
    }
    assert _runs(config) == [
        ("2026-W47", "sent"),
        ("2026-W48", "skipped"),
        ("2026-W49", "skipped"),
        ("2026-W50", "skipped"),
        ("2026-W51", "sent"),
        ("2026-W51", "already-sent"),
        ("2026-W52", "sent"),
    ]
    details = [
        r["detail"] for r in query(config, "SELECT detail FROM runs WHERE outcome='skipped'")
    ]
    assert details[0].startswith("missed by 21d, grace is 6h (was due Mon 23 Nov 2026 08:00")
    _one_copy_of_each(config, emails, 3)


def test_a_clock_jumping_back_a_week_after_an_issue_sends_nothing_again(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    # Reviews for W47, W48 and W49.
    write_reviews(config, [monday(16) - timedelta(days=4) + timedelta(weeks=n) for n in range(3)])
    emails = add_subscribers(config, 3)
    tick(config, now=monday(16))  # W47
    tick(config, now=monday(23))  # W48
    assert _issues(config) == {"2026-W47": "done", "2026-W48": "done"}
    sent_before = maildir_copies(config)

    # The clock is set back a week, to just after W47's firing (inside its grace), and runs on
    # from there: W47's and W48's firings come round a second time.
    back = [
        monday(16, hour=9),
        monday(16, hour=20),
        datetime(2026, 11, 18, 12, tzinfo=BERLIN),
        monday(23),
        monday(23, hour=10),
    ]
    reports = [tick(config, now=now) for now in back]

    outcomes = [(r.issue_id, r.outcome) for report in reports for r in report.results]
    assert outcomes == [
        ("2026-W47", "already-sent"),
        ("2026-W48", "already-sent"),
        ("2026-W48", "already-sent"),
    ]
    assert not any(report.missed for report in reports)
    assert maildir_copies(config) == sent_before, "something was sent again"
    assert _issues(config) == {"2026-W47": "done", "2026-W48": "done"}

    # Once the clock is past W48 again, W49 goes out as usual, to each reader once.
    tick(config, now=monday(30))
    assert _issues(config) == dict.fromkeys(("2026-W47", "2026-W48", "2026-W49"), "done")
    _one_copy_of_each(config, emails, 3)
    assert not query(config, "SELECT * FROM runs WHERE outcome = 'skipped'")


def test_a_clock_set_back_into_a_skipped_week_repeats_no_review_and_no_copy(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon", grace="6h")
    write_reviews(
        config,
        [
            datetime(2026, 11, 12, 12, tzinfo=BERLIN),  # W47's week
            datetime(2026, 11, 19, 12, tzinfo=BERLIN),  # W48's week
            datetime(2026, 11, 16, 7, tzinfo=BERLIN),  # an hour before W47's firing
        ],
    )
    emails = add_subscribers(config, 2)
    tick(config, now=datetime(2026, 11, 17, 12, tzinfo=BERLIN))  # down at W47: skipped
    tick(config, now=monday(23))  # W48, carrying what was published since W47's firing
    carried_w48 = {r["title"] for r in query(config, "SELECT title FROM issue_reviews")}
    w48_copies = maildir_copies(config)

    # The clock goes back to W47's firing and on to W48's again.
    for now in (monday(16, hour=9), monday(23), monday(23, hour=12)):
        tick(config, now=now)

    # Whatever the clock said, no review went out in two issues, no period twice, and the
    # W48 copies already delivered were not delivered again.
    reviews = query(config, "SELECT review_id, issue_id, title FROM issue_reviews")
    assert len({r["review_id"] for r in reviews}) == len(reviews)
    assert {r["title"] for r in reviews if r["issue_id"] == "2026-W48"} == carried_w48
    copies = maildir_copies(config)
    assert set(copies.values()) == {1}
    assert {k: v for k, v in copies.items() if k in w48_copies} == w48_copies
    per_reader = Counter(to for to, _ in copies)
    assert set(per_reader) == set(emails)
    issues = _issues(config)
    assert set(issues) <= {"2026-W47", "2026-W48"}
    sends = Counter(i for i, outcome in _runs(config) if outcome == "sent")
    assert sends == dict.fromkeys(issues, 1), "a period was sent twice"
    assert all(per_reader[e] == len(issues) for e in emails)
