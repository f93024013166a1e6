"""How often an issue goes out (``schedule.cadence``), the key that names it, and the checks
that keep the cron, the approval settings and ``selection.days`` agreeing with it.

A cadence is ``daily`` (issues ``2026-12-01``), ``weekly`` (``2026-W49``, the ISO week — the
default) or ``monthly`` (``2026-12``), always in ``newsletter.timezone``. The ledger sends one
issue per key, so a cron that fires twice in one period could only ever send once: that is a
config error saying what to change, not a silent ``already-sent``. ``schedule.second`` (for tests
and demos, any value but ``"0"``) fires many times a minute on purpose, so it turns this check
off; each later firing in the period then records ``already-sent``. The checks themselves are
``config.agree``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

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
