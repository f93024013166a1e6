"""Which period an issue covers, and the key that names it in the ledger.

An issue is keyed by the period of the moment it is for, in the newsletter's timezone, as
``schedule.cadence`` says: the day (``2026-12-01``), the ISO week (``2026-W49``, the default)
or the month (``2026-12``) — not by the moment a trigger fired — so a re-run, a restart, a
manual ``send`` beside the scheduler or a DST shift all land on the same key, and the ledger
sends it once.

The reviews it may carry are those published in the window ending at that moment: one day,
seven days or one calendar month (same day and time a month before, the day clamped to the
month's length) for the three cadences, or ``selection.days`` when the file sets it (which must
agree with the cadence: ``config.cadence``). ``--since`` / ``--until`` override the window,
never the key's uniqueness.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from digest.config import Config
from digest.config.cadence import issue_key
from digest.errors import PeriodError
from digest.models import Period


def period_key(config: Config, when: datetime) -> str:
    return issue_key(config.schedule.cadence, when.astimezone(config.newsletter.tz))


def window_start(config: Config, end: datetime) -> datetime:
    """Where the selection window ending at ``end`` (local, aware) starts, by wall clock."""
    cadence = config.schedule.cadence
    if "days" in config.selection.model_fields_set or cadence == "weekly":
        return end - timedelta(days=config.selection.days)
    if cadence == "daily":
        return end - timedelta(days=1)
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    day = min(end.day, calendar.monthrange(year, month)[1])
    return end.replace(year=year, month=month, day=day)


def moment_in(config: Config, key: str) -> datetime:
    """A time inside the period named ``key`` (noon of its day, its week's Wednesday, its
    month's 15th), for an issue whose stored bounds don't say."""
    tz = config.newsletter.tz
    if "-W" in key:
        year, week = key.split("-W")
        noon = datetime.fromisocalendar(int(year), int(week), 3).replace(hour=12)
    elif key.count("-") == 2:
        noon = datetime.fromisoformat(key).replace(hour=12)
    else:
        noon = datetime.fromisoformat(f"{key}-15").replace(hour=12)
    return noon.replace(tzinfo=tz)


def current_period(
    config: Config,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Period:
    """The period for ``now``: ``[now - days, now)``, unless ``since``/``until`` say otherwise."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = config.newsletter.tz
    end = (until or now).astimezone(tz)
    start = (since or window_start(config, end)).astimezone(tz)
    check_window(start, end, since_given=since is not None, until_given=until is not None)
    return Period(key=period_key(config, now), start=start, end=end)


def check_window(start: datetime, end: datetime, *, since_given: bool, until_given: bool) -> None:
    """The one check every command's period goes through: it must start before it ends.

    Raises ``PeriodError`` naming the options as typed and the fix, never a ``ValueError``.
    """
    if start < end:
        return
    shown_start, shown_end = f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}"
    if since_given and until_given:
        raise PeriodError(
            f"--since {shown_start} is not before --until {shown_end}: a period must start "
            "before it ends; swap the two dates"
        )
    if since_given:
        raise PeriodError(
            f"--since {shown_start} is not before the end of the period ({shown_end}, now); "
            "give an earlier --since, or a later --until"
        )
    raise PeriodError(
        f"--until {shown_end} is not after the start of the period ({shown_start}); "
        "give a later --until, or an earlier --since"
    )
