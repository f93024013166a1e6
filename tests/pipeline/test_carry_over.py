"""A review left out of one issue goes out in the next, and a manual early run leaves no gap
(regressions from an adversarial review, driven through the real CLI and pipeline)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import support.smtp as smtp_support

from digest.config import load_config
from digest.pipeline.run import run_once
from digest.state import db

# ---------------------------------------------------------------------------------------------
# A review left out of one issue (over max_reviews, trimmed for size) goes out in the next
# ---------------------------------------------------------------------------------------------


def test_a_review_over_max_reviews_goes_out_in_the_next_issue(tmp_path: Path) -> None:
    config = load_config(
        smtp_support.write_config(tmp_path, selection={"days": 7, "max_reviews": 2})
    )
    smtp_support.write_reviews(tmp_path / "reviews", 3)
    smtp_support.add_subscribers(config, 1)

    first = run_once(config, now=smtp_support.NOW)
    second = run_once(config, now=smtp_support.NOW + timedelta(days=7))

    assert (first.outcome, first.reviews) == ("sent", 2)
    assert (second.outcome, second.reviews) == ("sent", 1)
    conn = db.connect(config.state)
    try:
        carried = conn.execute("SELECT issue_id, count(*) FROM issue_reviews GROUP BY issue_id")
        assert sorted(tuple(r) for r in carried) == [("2026-W48", 2), ("2026-W49", 1)]
    finally:
        conn.close()


def test_a_manual_run_early_in_the_week_leaves_no_gap_before_the_next_issue(
    tmp_path: Path,
) -> None:
    # A manual `digest run` on Tuesday keys the week; the scheduled Friday run then finds it
    # already sent, and the next Friday's seven days must still reach back to Tuesday.
    config = load_config(smtp_support.write_config(tmp_path))
    smtp_support.add_subscribers(config, 1)
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=smtp_support.NOW.tzinfo)
    smtp_support.write_reviews(tmp_path / "reviews", 1, published=tuesday - timedelta(days=1))
    assert run_once(config, now=tuesday).outcome == "sent"
    wednesday = tuesday + timedelta(days=1)
    (tmp_path / "reviews" / "late.txt").write_text(
        f"Title: Published On Wednesday\nDate: {wednesday.isoformat()}\n\n"
        "Overview: A quiet film about a loud week. Tideline; 2026; 12A; 95 min.\n\nRating: B\n",
        encoding="utf-8",
    )

    next_friday = datetime(2026, 12, 4, 8, 0, tzinfo=smtp_support.NOW.tzinfo)
    result = run_once(config, now=next_friday)

    assert (result.outcome, result.reviews) == ("sent", 1)
