"""The approval gate and the approve links, on a real state file and the Maildir outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from support.clock import BERLIN
from support.scheduling import add_subscribers, maildir_copies, query, write_config, write_reviews

from digest.config import Config
from digest.period import current_period
from digest.pipeline.approval import prepare_for_approval
from digest.pipeline.run import run_once
from digest.schedule.editorial import approve_issue
from digest.state import approvals, db

FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)


def setup(tmp_path: Path, **schedule: str) -> Config:
    config = write_config(
        tmp_path, approval="required", prepare="0 10 * * fri", editors=["ed@reel.example.org"],
        **schedule,
    )  # fmt: skip
    write_reviews(config, [FRIDAY - timedelta(days=2)])
    add_subscribers(config, 2)
    return config


def readers_copies(config: Config) -> int:
    return sum(n for (to, _), n in maildir_copies(config).items() if to.startswith("reader"))


def test_a_new_proof_makes_the_old_link_worthless_and_a_forged_one_never_works(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path)
    period = current_period(config, MONDAY)
    first = prepare_for_approval(config, period, now=FRIDAY)
    second = prepare_for_approval(config, period, now=FRIDAY + timedelta(hours=1))
    key, nonce, signature = second.token.split(".")
    forged = f"{key}.{nonce}.{'0' * len(signature)}"
    conn = db.connect(config.state)
    try:
        for token in (first.token, forged, f"2026-W50.{nonce}.{signature}", "x", ""):
            assert approvals.check_token(conn, token) is None, token
            assert approvals.approve_by_token(conn, token, now=FRIDAY, path=config.state) is None
        done = approvals.approve_by_token(conn, second.token, now=FRIDAY, path=config.state)
        assert done is not None and done.status == "approved"
        assert approvals.check_token(conn, second.token) is None  # used
    finally:
        conn.close()


def test_a_held_issue_approved_in_the_shell_goes_out_at_once_within_the_grace(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path)
    prepare_for_approval(config, current_period(config, MONDAY), now=FRIDAY)
    held = run_once(config, now=MONDAY, trigger="schedule")
    assert held.outcome == "held" and readers_copies(config) == 0
    done = approve_issue(config, None, now=MONDAY + timedelta(hours=3))
    assert done.sent is not None and done.sent.outcome == "sent"
    assert readers_copies(config) == 2
    assert query(config, "SELECT id, status FROM issues")[0]["status"] == "done"


def test_an_issue_approved_after_its_grace_is_not_sent_on_its_own(tmp_path: Path) -> None:
    config = setup(tmp_path)
    prepare_for_approval(config, current_period(config, MONDAY), now=FRIDAY)
    assert run_once(config, now=MONDAY, trigger="schedule").outcome == "held"
    late = approve_issue(config, "2026-W49", now=MONDAY + timedelta(hours=9))
    assert late.sent is None and "does not go out on its own" in late.message
    assert readers_copies(config) == 0


def test_on_unapproved_send_sends_the_proofed_rendering_and_tells_the_editors(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path, on_unapproved="send")
    proofed = prepare_for_approval(config, current_period(config, MONDAY), now=FRIDAY)
    write_reviews(config, [FRIDAY - timedelta(days=2), FRIDAY + timedelta(days=1)])  # a new one
    result = run_once(config, now=MONDAY, trigger="schedule")
    assert (result.outcome, result.reviews) == ("sent", proofed.reviews)
    subjects = [s for (to, s) in maildir_copies(config) if to == "ed@reel.example.org"]
    assert sorted(s.split(" ")[0] for s in subjects) == ["[PROOF]", "[SENT"]


def test_without_any_proof_a_send_prepares_one_and_holds(tmp_path: Path) -> None:
    config = setup(tmp_path)
    result = run_once(config, now=MONDAY, trigger="schedule")
    assert result.outcome == "held"
    subjects = sorted(s for (to, s) in maildir_copies(config) if to == "ed@reel.example.org")
    assert [s.split(" ")[0] for s in subjects] == ["[HELD]", "[PROOF]"]
    assert readers_copies(config) == 0
