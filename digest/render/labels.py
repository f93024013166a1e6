"""Dates as the email names them: the period label in the masthead, the month names."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from digest.models import Period

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def period_label(period: Period, tz: ZoneInfo) -> str:
    """``17–23 November 2026`` for the half-open span, in the newsletter's timezone: the days it
    really covers (a span ending at midnight does not name the next day)."""
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()

    def day_month(d: date) -> str:
        return f"{d.day} {MONTHS[d.month - 1]}"

    if first == last:
        return f"{day_month(first)} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{day_month(last)} {last.year}"
    if first.year == last.year:
        return f"{day_month(first)} – {day_month(last)} {last.year}"
    return f"{day_month(first)} {first.year} – {day_month(last)} {last.year}"
