"""``schedule.cadence`` against the cron, ``selection.days`` and the approval settings: each
contradiction is one error naming the file, the line, the key and what to change."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from support.clock import BERLIN

from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.period import current_period, period_key

BASE = """\
newsletter:
  title: Test Digest
  from: "Test <news@example.org>"
  base_url: https://example.org/
  timezone: Europe/Berlin
sources:
  - {type: folder, path: reviews/}
"""


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_config(path)


def error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(str(tmp_path / "config.yaml"))
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_daily_cron_for_a_weekly_issue_says_what_to_change(tmp_path: Path) -> None:
    err = error(tmp_path, "schedule:\n  cron: '0 8 * * *'\n")
    assert (err.key, err.line) == ("schedule.cron", 9)
    assert "fires more than once in a week" in str(err)
    assert 'e.g. "0 8 * * mon", or set schedule.cadence: daily' in str(err)


def test_a_weekly_cron_for_a_monthly_issue_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, "schedule: {cron: '0 8 * * mon', cadence: monthly}\n")
    assert err.key == "schedule.cron" and 'e.g. "0 8 1 * *"' in str(err)


def test_selection_days_must_agree_with_the_cadence(tmp_path: Path) -> None:
    err = error(tmp_path, "schedule: {cron: '0 8 * * *', cadence: daily}\nselection: {days: 7}\n")
    assert (err.key, err.line) == ("selection.days", 9)
    assert "7 contradicts schedule.cadence: daily (a daily issue covers 1 day)" in str(err)
    assert "set selection.days: 1, or leave it out" in str(err)
    load(tmp_path, "schedule: {cron: '0 8 1 * *', cadence: monthly}\nselection: {days: 30}\n")


def test_approval_needs_a_prepare_cron_and_editors(tmp_path: Path) -> None:
    err = error(tmp_path, "schedule: {approval: required, editors: [ed@example.org]}\n")
    assert err.key == "schedule.prepare" and "schedule.approval: none" in str(err)
    err = error(tmp_path, "schedule: {approval: required, prepare: '0 10 * * fri'}\n")
    assert err.key == "schedule.editors"
    err = error(
        tmp_path,
        "schedule: {approval: required, prepare: '0 10 * * fri', editors: ['Ed <ed@x.org>']}\n",
    )
    assert err.key == "schedule.editors" and "bare address" in str(err)


def test_the_three_keys_and_windows(tmp_path: Path) -> None:
    when = datetime(2026, 12, 1, 8, 0, tzinfo=BERLIN)
    daily = load(tmp_path, "schedule: {cron: '0 8 * * *', cadence: daily}\n")
    weekly = load(tmp_path, "")
    monthly = load(tmp_path, "schedule: {cron: '0 8 1 * *', cadence: monthly}\n")
    keys = [period_key(c, when) for c in (daily, weekly, monthly)]
    assert keys == ["2026-12-01", "2026-W49", "2026-12"]
    starts = [current_period(c, when).start for c in (daily, weekly, monthly)]
    assert starts == [
        datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN),
        datetime(2026, 11, 24, 8, 0, tzinfo=BERLIN),
        datetime(2026, 11, 1, 8, 0, tzinfo=BERLIN),
    ]
    # A month back from 31 March is the last day of February.
    end = datetime(2026, 3, 31, 8, 0, tzinfo=BERLIN)
    assert current_period(monthly, end).start == datetime(2026, 2, 28, 8, 0, tzinfo=BERLIN)
