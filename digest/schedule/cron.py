"""The schedule's cron trigger, walked by hand: APScheduler 3.x only walks forward.

``schedule.cron`` is five crontab fields in ``newsletter.timezone`` (weekday names only — see
``config.Schedule``), plus ``schedule.second`` for tests and demos that need firings seconds
apart. Every walk asks the trigger exactly as APScheduler's scheduler does, so the times here
are the times the scheduler fires.

DST, as APScheduler 3.11 behaves with a ``zoneinfo`` zone (pinned by tests): a wall-clock time
that does not exist on the spring-forward day (02:30 in Berlin) fires once, at the first
instant after the gap (03:30 local); a time in the hour repeated in autumn fires twice, once
per offset — both firings fall in one period, and the ledger sends that period's issue once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from digest.config import Config

#: How many past firings a walk keeps at most (weeks missed while the process was down).
MAX_FIRES = 60


def build_trigger(config: Config) -> CronTrigger:
    """The cron trigger for ``schedule.cron`` (+ ``schedule.second``) in newsletter.timezone."""
    minute, hour, day, month, day_of_week = config.schedule.cron.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
        second=config.schedule.second,
        timezone=config.newsletter.tz,
    )


def _walk(trigger: CronTrigger, start: datetime) -> Iterator[datetime]:
    """Fire times from ``start`` on, computed as the scheduler computes them."""
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    while fire is not None:
        yield fire
        fire = trigger.get_next_fire_time(fire, fire)


# Every comparison below is made against a UTC ``now``: Python compares two datetimes that
# share a tzinfo by wall-clock time, which calls 02:30 CEST and 02:30 CET (autumn) equal.


def next_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The first scheduled time strictly after ``now``."""
    now = now.astimezone(UTC)
    for fire in _walk(trigger, now):
        if fire > now:
            return fire
    return None


def previous_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (None if none in ~8 years)."""
    now = now.astimezone(UTC)
    window = timedelta(minutes=2)
    while window < timedelta(days=3000):
        last = None
        for fire in _walk(trigger, now - window):
            if fire > now:
                break
            last = fire
        if last is not None:
            return last
        window *= 8
    return None


def fires_between(trigger: CronTrigger, after: datetime, until: datetime) -> list[datetime]:
    """Scheduled times in ``(after, until]``; at most the latest ``MAX_FIRES`` of them."""
    after, until = after.astimezone(UTC), until.astimezone(UTC)
    fires: list[datetime] = []
    for fire in _walk(trigger, after):
        if fire > until:
            break
        if fire > after:
            fires.append(fire)
            del fires[:-MAX_FIRES]
    return fires


def local_time(config: Config, when: datetime) -> str:
    """``Mon 30 Nov 2026 08:00 CET`` in the newsletter's timezone."""
    # Through UTC: astimezone() to the datetime's own zone would keep a non-existent time.
    return when.astimezone(UTC).astimezone(config.newsletter.tz).strftime("%a %d %b %Y %H:%M %Z")


def relative(span: timedelta) -> str:
    """``4 days, 11 hours`` / ``3 hours, 5 minutes`` / ``40 seconds`` (two largest units)."""
    seconds = max(0, int(span.total_seconds()))
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return ", ".join(parts[:2]) or "0 seconds"
