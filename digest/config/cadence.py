"""How often an issue goes out (``schedule.cadence``), the key that names it, and the checks
that keep the cron, the approval settings and ``selection.days`` agreeing with it.

A cadence is ``daily`` (issues ``2026-12-01``), ``weekly`` (``2026-W49``, the ISO week — the
default) or ``monthly`` (``2026-12``), always in ``newsletter.timezone``. The ledger sends one
issue per key, so a cron that fires twice in one period could only ever send once: that is a
config error saying what to change, not a silent ``already-sent``. ``schedule.second`` (for tests
and demos, any value but ``"0"``) fires many times a minute on purpose, so it turns this check
off; each later firing in the period then records ``already-sent``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from digest.config.schema import Config

Cadence = Literal["daily", "weekly", "monthly"]

#: The noun for one period: "fires twice a week", "this week's issue", ``period_noun``.
NOUNS: dict[str, str] = {"daily": "day", "weekly": "week", "monthly": "month"}
#: ``selection.days`` values that agree with each cadence (months are 28 to 31 days long).
DAYS: dict[str, tuple[int, int]] = {"daily": (1, 1), "weekly": (7, 7), "monthly": (28, 31)}
#: A cron that fires once per period, for the error message.
EXAMPLES: dict[str, str] = {"daily": "0 8 * * *", "weekly": "0 8 * * mon", "monthly": "0 8 1 * *"}
#: How far ahead the cron is walked to count its firings per period (a year and a bit: every
#: month, both DST changes, a leap day's February).
HORIZON = timedelta(days=400)


def issue_key(cadence: str, local: datetime) -> str:
    """The key of the period ``local`` (a time in the newsletter's zone) falls in."""
    if cadence == "daily":
        return f"{local:%Y-%m-%d}"
    if cadence == "monthly":
        return f"{local:%Y-%m}"
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def problems(config: Config) -> list[tuple[str, str]]:
    """``(key, message)`` for each way the schedule contradicts itself; empty when it agrees."""
    schedule = config.schedule
    found: list[tuple[str, str]] = []
    if schedule.second == "0":
        for key, cron in (("schedule.cron", schedule.cron), ("schedule.prepare", schedule.prepare)):
            if cron is not None and (problem := _cron_problem(config, cron)):
                found.append((key, problem))
    low, high = DAYS[schedule.cadence]
    days = config.selection.days
    if "days" in config.selection.model_fields_set and not low <= days <= high:
        want = "1 day" if high == 1 else f"{low} days" if low == high else f"{low} to {high} days"
        found.append(
            (
                "selection.days",
                f"{days} contradicts schedule.cadence: {schedule.cadence} (a {schedule.cadence} "
                f"issue covers {want}); set selection.days: {low}, or leave it out",
            )
        )
    if schedule.approval == "required":
        if schedule.prepare is None:
            found.append(("schedule.prepare", _REQUIRED.format(what="a cron for the proof")))
        if not schedule.editors:
            found.append(("schedule.editors", _REQUIRED.format(what="who gets the proof")))
    return found


_REQUIRED = (
    "schedule.approval: required needs {what}: set schedule.prepare (e.g. \"0 10 * * fri\") and "
    "schedule.editors (a list of addresses), or set schedule.approval: none"
)


def _cron_problem(config: Config, cron: str) -> str | None:
    """What to change when ``cron`` fires more than once in one period of the cadence."""
    cadence = config.schedule.cadence
    tz = config.newsletter.tz
    minute, hour, day, month, day_of_week = cron.split()
    trigger = CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, second="0",
        timezone=tz,
    )  # fmt: skip
    start = datetime(2026, 1, 1, tzinfo=tz)
    seen: Counter[str] = Counter()
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    while fire is not None and fire.astimezone(UTC) - start.astimezone(UTC) < HORIZON:
        # The autumn hour's second pass is never fired (see schedule.cron.WallClockCron).
        if not (fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()):
            key = issue_key(cadence, fire)
            seen[key] += 1
            if seen[key] > 1:
                return _too_often(cadence, cron, key)
        fire = trigger.get_next_fire_time(fire, fire)
    return None


def _too_often(cadence: str, cron: str, key: str) -> str:
    noun = NOUNS[cadence]
    finer = {"monthly": "weekly", "weekly": "daily"}.get(cadence)
    other = f", or set schedule.cadence: {finer}" if finer else ""
    return (
        f"{cron!r} fires more than once in a {noun} (twice in {key}), but schedule.cadence: "
        f"{cadence} sends one issue per {noun}; fire once a {noun}, e.g. "
        f'"{EXAMPLES[cadence]}"{other}'
    )
