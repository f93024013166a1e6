"""The cron trigger and period keys around DST, in Europe/Berlin and Europe/London.

Every test passes explicit aware datetimes; nothing reads or patches the clock.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import Config, parse_config
from digest.errors import ConfigError
from digest.period import current_period, period_key
from digest.schedule.cron import build_trigger, fires_between, next_fire, previous_fire

BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")


def make_config(tmp_path: Path, *, tz: str = "Europe/Berlin", schedule: str = "") -> Config:
    text = f"""
newsletter:
  title: Test Reel
  from: "Test Reel <news@reel.example.org>"
  base_url: https://reel.example.org
  timezone: {tz}
sources:
  - {{type: folder, path: reviews/}}
state: state/digest.sqlite3
{schedule or 'schedule: {cron: "0 8 * * mon", grace: 6h}'}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def year_of_fires(config: Config, year: int) -> list[datetime]:
    trigger = build_trigger(config)
    start = datetime(year, 1, 1, tzinfo=config.newsletter.tz)
    end = datetime(year + 1, 1, 1, tzinfo=config.newsletter.tz)
    return fires_between(trigger, start, end)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Europe/London"])
@pytest.mark.parametrize("year", [2026, 2027])
def test_weekly_trigger_gives_one_key_per_iso_week_all_year(
    tmp_path: Path, tz: str, year: int
) -> None:
    config = make_config(tmp_path, tz=tz)
    fires = year_of_fires(config, year)
    keys = [period_key(config, f) for f in fires]
    assert len(keys) == len(set(keys)), "a week keyed twice"
    # Every Monday of the year, at 08:00 local wall-clock time, summer and winter alike.
    weeks = {f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in fires}
    assert set(keys) == weeks
    assert {f.astimezone(config.newsletter.tz).strftime("%a %H:%M") for f in fires} == {"Mon 08:00"}
    offsets = {f.astimezone(config.newsletter.tz).utcoffset() for f in fires}
    assert len(offsets) == 2, "the year should cross both DST changes"


@pytest.mark.parametrize(
    ("tz", "spring", "autumn"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29), datetime(2026, 10, 25)),
        ("Europe/London", datetime(2026, 3, 29), datetime(2026, 10, 25)),
        ("Europe/Berlin", datetime(2027, 3, 28), datetime(2027, 10, 31)),
    ],
)
def test_the_weeks_around_each_dst_change_are_distinct_and_tile(
    tmp_path: Path, tz: str, spring: datetime, autumn: datetime
) -> None:
    config = make_config(tmp_path, tz=tz)
    zone = config.newsletter.tz
    trigger = build_trigger(config)
    for change in (spring, autumn):
        fires = fires_between(
            trigger, (change - timedelta(days=15)).replace(tzinfo=zone), change.replace(tzinfo=zone)
        )
        fires += fires_between(
            trigger, change.replace(tzinfo=zone), (change + timedelta(days=15)).replace(tzinfo=zone)
        )
        periods = [current_period(config, f) for f in fires]
        assert len({p.key for p in periods}) == len(periods) == 4
        # Each issue's window ends exactly where the next one starts, the short and the
        # long week included: no review falls between two issues.
        # (Compared in UTC: Python compares same-zone datetimes by wall-clock time.)
        for before, after in itertools.pairwise(periods):
            assert before.end.astimezone(UTC) == after.start.astimezone(UTC)
        spans = {p.end.astimezone(UTC) - p.start.astimezone(UTC) for p in periods}
        one_hour = timedelta(hours=1)
        assert spans == {
            timedelta(days=7),
            timedelta(days=7) + (one_hour if change == autumn else -one_hour),
        }


def test_period_key_uses_local_time_not_utc(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    # Monday 00:30 in Berlin is still Sunday in UTC: the local week wins.
    monday_early = datetime(2026, 11, 23, 0, 30, tzinfo=BERLIN)
    assert monday_early.astimezone(UTC).isocalendar()[1] == 47
    assert period_key(config, monday_early) == "2026-W48"
    assert period_key(config, monday_early.astimezone(UTC)) == "2026-W48"


def test_a_time_in_the_skipped_spring_hour_fires_once_an_hour_later(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule='schedule: {cron: "30 2 * * sun", grace: 6h}')
    trigger = build_trigger(config)
    fires = fires_between(
        trigger, datetime(2026, 3, 21, tzinfo=BERLIN), datetime(2026, 4, 6, tzinfo=BERLIN)
    )
    utc = [f.astimezone(UTC) for f in fires]
    # 02:30 does not exist on 29 March in Berlin; APScheduler fires at 01:30 UTC = 03:30 CEST.
    assert utc == [
        datetime(2026, 3, 22, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 4, 5, 0, 30, tzinfo=UTC),
    ]
    assert fires[1].astimezone(UTC).astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    assert len({period_key(config, f) for f in fires}) == 3


def test_a_walk_starting_just_after_the_spring_gap_still_finds_the_shifted_firing(
    tmp_path: Path,
) -> None:
    # APScheduler alone, started at 03:00-03:29 CEST, skips to 5 April: the week is lost.
    config = make_config(tmp_path, schedule='schedule: {cron: "30 2 * * sun", grace: 6h}')
    trigger = build_trigger(config)
    shifted = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    for minute in (0, 10, 29):
        start = datetime(2026, 3, 29, 3, minute, tzinfo=BERLIN)
        # (In UTC: PEP 495 makes a time in the gap unequal to every time in another zone.)
        assert _utc(next_fire(trigger, start)) == shifted
        assert _utc(trigger.get_next_fire_time(start, start)) == shifted  # after a start-up run
    assert _utc(next_fire(trigger, shifted)) == datetime(2026, 4, 5, 0, 30, tzinfo=UTC)


def test_a_time_in_the_repeated_autumn_hour_fires_once_at_its_first_occurrence(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, schedule='schedule: {cron: "30 2 * * sun", grace: 6h}')
    trigger = build_trigger(config)
    fires = fires_between(
        trigger, datetime(2026, 10, 24, tzinfo=BERLIN), datetime(2026, 11, 2, tzinfo=BERLIN)
    )
    assert [f.astimezone(UTC) for f in fires] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST; not again at 02:30 CET
        datetime(2026, 11, 1, 1, 30, tzinfo=UTC),
    ]
    # Started during the second pass through the hour, it waits for next week.
    second_pass = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)
    assert _utc(next_fire(trigger, second_pass)) == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    assert _utc(previous_fire(trigger, second_pass)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def _utc(when: datetime | None) -> datetime | None:
    return when.astimezone(UTC) if when is not None else None


def test_previous_and_next_fire(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    trigger = build_trigger(config)
    wednesday = datetime(2026, 11, 25, 20, 0, tzinfo=BERLIN)
    assert previous_fire(trigger, wednesday) == datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
    assert next_fire(trigger, wednesday) == datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    on_time = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
    assert previous_fire(trigger, on_time) == on_time
    assert next_fire(trigger, on_time) == datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    # A monthly schedule is found far back too.
    monthly = build_trigger(make_config(tmp_path, schedule='schedule: {cron: "0 8 1 * *"}'))
    assert previous_fire(monthly, wednesday) == datetime(2026, 11, 1, 8, 0, tzinfo=BERLIN)


def test_seconds_field_fires_seconds_apart(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule='schedule: {cron: "* * * * *", second: "*/3"}')
    trigger = build_trigger(config)
    start = datetime(2026, 11, 25, 20, 0, 1, tzinfo=BERLIN)
    fires = fires_between(trigger, start, start + timedelta(seconds=10))
    assert [f.second for f in fires] == [3, 6, 9]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('{cron: "0 8 * * 1"}', "day of the week as a name"),
        ('{cron: "0 8 * * 1-5"}', "day of the week as a name"),
        ('{cron: "0 8 * mon"}', "five fields"),
        ('{cron: "0 25 * * mon"}', "invalid cron expression"),
        ('{cron: "0 8 30 feb *"}', "never fires"),
        ('{cron: "0 8 * * mon", second: "75"}', "invalid seconds field"),
        ('{cron: "0 8 * * mon", grace: soon}', "expected a duration"),
    ],
)
def test_bad_schedules_are_config_errors(tmp_path: Path, schedule: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, schedule=f"schedule: {schedule}")
    assert "schedule." in str(caught.value)
    assert message in str(caught.value)


def test_weekday_steps_and_names_are_accepted(tmp_path: Path) -> None:
    for cron in ("0 8 * * mon-fri", "0 8 * * */2", "0 8 * * sun,wed"):
        config = make_config(tmp_path, schedule=f'schedule: {{cron: "{cron}", cadence: daily}}')
        assert config.schedule.cron == cron
