"""The one pinned clock of the test suite: a non-UTC zone on purpose, explicit aware datetimes.

Every fixed moment a test uses is ``NOW`` or a named offset from it, so the whole suite agrees
on which week it is (ISO week 2026-W48) and a test never reads the real clock by accident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")

#: Monday 23 November 2026, 08:00 in Berlin: the weekly firing of ``0 8 * * mon``.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
#: Wednesday of the same week, mid-morning: a manual send in the middle of the week.
MIDWEEK = NOW + timedelta(days=2, hours=1, minutes=30)
#: Wednesday noon: when the feed tests collect.
WEDNESDAY_NOON = NOW + timedelta(days=2, hours=4)
