"""The schedule's cron trigger, walked by hand: APScheduler 3.x only walks forward.

``schedule.cron`` is five crontab fields in ``newsletter.timezone`` (weekday names only — see
``config.Schedule``), plus ``schedule.second`` for tests and demos that need firings seconds
apart. Every walk asks the trigger exactly as APScheduler's scheduler does, so the times here
are the times the scheduler fires.

DST (pinned by tests): a wall-clock time that does not exist on the spring-forward day (02:30
in Berlin) fires once, shifted by the change (03:30 local); a time in the hour repeated in
autumn fires once, at its first occurrence. ``WallClockCron`` makes APScheduler 3.11 keep both,
whenever the scheduler starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from digest.config import Config

#: How many past firings a walk keeps at most (weeks missed while the process was down).
MAX_FIRES = 60


class WallClockCron(CronTrigger):  # type: ignore[misc]
    """APScheduler's ``CronTrigger``, firing each local wall-clock time exactly once across DST.

    Spring: a time inside the skipped hour fires at its shifted instant (02:30 → 03:30 CEST),
    but APScheduler finds that firing only when it starts looking before the gap. Started
    between the gap and the shifted time — a scheduler restarted just after the change — it
    jumps to next week and the week is lost without a trace. So a walk that starts within one
    shift after a spring change also looks from before the change.

    Autumn: a time inside the repeated hour matches twice (02:30 CEST, then 02:30 CET); the
    second occurrence (``fold=1``) is skipped, as cron does.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire = self._next(previous_fire_time, now)
        while fire is not None and _second_occurrence(fire):
            fire = self._next(fire, fire)
        return fire

    def _next(self, previous: datetime | None, now: datetime) -> datetime | None:
        fire: datetime | None = super().get_next_fire_time(previous, now)
        # Where APScheduler starts looking: strictly after the previous firing, else now.
        # (In UTC: adding to a local time would drop its fold and go back an hour in autumn.)
        start = (previous or now).astimezone(UTC)
        if previous is not None:
            start += timedelta(microseconds=1)
        shift = _spring_shift(self.timezone, start)
        if shift is None:
            return fire
        candidate: datetime | None = super().get_next_fire_time(None, start - shift)
        while candidate is not None and candidate.astimezone(UTC) < start:
            candidate = super().get_next_fire_time(candidate, candidate)
        if candidate is None or (fire is not None and fire.astimezone(UTC) <= candidate):
            return fire
        return candidate


def _spring_shift(tz: tzinfo, start: datetime) -> timedelta | None:
    """The clocks' jump if they went forward less than one jump before ``start``, else None:
    only then can a firing shifted out of the gap lie after ``start`` unseen by APScheduler."""
    after = start.astimezone(tz).utcoffset()
    before = (start - timedelta(hours=3)).astimezone(tz).utcoffset()
    if after is None or before is None or after <= before:
        return None
    shift = after - before
    return shift if (start - shift).astimezone(tz).utcoffset() == before else None


def _second_occurrence(fire: datetime) -> bool:
    """A wall-clock time of the repeated autumn hour, the second time round."""
    return fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


def build_trigger(config: Config, *, cron: str | None = None) -> CronTrigger:
    """The cron trigger for ``schedule.cron`` (or ``cron``, e.g. ``schedule.prepare``) with
    ``schedule.second``, in newsletter.timezone."""
    minute, hour, day, month, day_of_week = (cron or config.schedule.cron).split()
    return WallClockCron(
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
