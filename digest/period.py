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
    return Period(key=period_key(config, now), start=start, end=end)
