"""Which period an issue covers, and the key that names it in the ledger.

An issue is keyed by the ISO week (``2026-W48``) of the moment it is for, in the newsletter's
timezone — not by the moment a trigger fired — so a re-run, a restart, a manual ``send`` beside
the scheduler or a DST shift all land on the same key, and the ledger sends it once.

The reviews it may carry are those published in the ``selection.days`` ending at that moment
(``--since`` / ``--until`` override the window, never the key's uniqueness).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.config import Config
from digest.errors import PeriodError
from digest.models import Period


def period_key(config: Config, when: datetime) -> str:
    local = when.astimezone(config.newsletter.tz)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


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
    start = (since or end - timedelta(days=config.selection.days)).astimezone(tz)
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
