"""Checks across sections that a single field can't make: the cron against the cadence
(``config.cadence``), ``selection.days`` against the cadence, and the approval settings.

Each problem is ``(key, message)``; ``load`` turns the first into a ``ConfigError`` naming
the file, the line and the key.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger

from digest.config.cadence import DAYS, EXAMPLES, HORIZON, NOUNS, issue_key
from digest.config.schema import Config


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
    'schedule.approval: required needs {what}: set schedule.prepare (e.g. "0 10 * * fri") and '
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
