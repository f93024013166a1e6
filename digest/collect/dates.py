"""Entry dates as the formats define them, and what to do when a date has no zone.

RFC 3339 / ISO 8601 (``2026-11-23T21:30:00+01:00``) and RFC 822 / 2822
(``Mon, 23 Nov 2026 21:30:00 +0100``, zone names UT, GMT, EST … PDT) are read wherever they
appear: an RSS feed, an Atom feed or a JSON Feed. A 12-hour clock (``09:30 PM``) is read as
written, never 12 hours off, and so are the long forms sites print (``November 23, 2026
9:30 pm``). A date with no zone, or a zone name RFC 822 does not define (``BST``, ``CET``),
can't be placed in time by itself: it is read in the source's ``timezone:`` (default
``newsletter.timezone``), and the source reports how many such dates it read, once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_tz

from digest.models import Problem

#: RFC 822's own zone names (RFC 2822 §4.3) and the military "Z".
_RFC822_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip
_AMPM = re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d\d)(?::(?P<s>\d\d))?\s*(?P<p>[AaPp])\.?\s*[Mm]\.?")
_ZONE_TAIL = re.compile(r"(?:(?<=\d)|\s)(?P<zone>[+-]\d\d:?\d\d|[A-Za-z]{1,5})\s*$")
_LONG_FORMS = (
    "%B %d, %Y %H:%M:%S", "%B %d, %Y %H:%M", "%b %d, %Y %H:%M", "%B %d, %Y",
    "%d %B %Y %H:%M:%S", "%d %B %Y %H:%M", "%d %B %Y", "%A, %B %d, %Y %H:%M",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
)  # fmt: skip


def _twenty_four_hour(text: str) -> str:
    def convert(m: re.Match[str]) -> str:
        hour = int(m.group("h")) % 12 + (12 if m.group("p").lower() == "p" else 0)
        return f"{hour:02d}:{m.group('m')}" + (f":{m.group('s')}" if m.group("s") else "")

    return _AMPM.sub(convert, text)


def _rfc822(text: str) -> tuple[datetime, bool] | None:
    """``(when, zone known)`` for an RFC 822 date, ``None`` when it is not one."""
    if not re.search(r"\d{1,2}:\d\d", text) or not re.match(r"^\s*(?:[A-Za-z]{3},?\s*)?\d", text):
        return None
    fields = parsedate_tz(text)
    if fields is None:
        return None
    m = _ZONE_TAIL.search(text)
    zone = m.group("zone") if m else ""
    if zone[:1] in "+-" and zone:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
        # "-0000" (RFC 2822 §3.3): the time is in UTC, the writer's own zone unknown.
        known: timedelta | None = -offset if zone[0] == "-" else offset
    else:
        hours = _RFC822_ZONES.get(zone.upper())
        known = timedelta(hours=hours) if hours is not None else None
    try:
        naive = datetime(*fields[:6])
    except (TypeError, ValueError):
        return None
    if known is None:
        return naive, False
    return naive.replace(tzinfo=timezone(known)), True


def _iso_or_long(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for form in _LONG_FORMS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


#: A date that ends in an explicit offset or UTC, on a 24-hour clock: any RFC 822/3339 reader
#: (feedparser's included) reads it right, so a caller may use the reading it already has.
_PLAIN_ZONED = re.compile(r"(?:[+-]\d\d:?\d\d|\bGMT|\bUTC|\d[Zz])\s*$")


def unambiguous(text: object) -> bool:
    """Whether ``text`` carries its zone (not "-0000") and no 12-hour clock."""
    return (
        isinstance(text, str)
        and _PLAIN_ZONED.search(text) is not None
        and not text.rstrip().endswith(("-0000", "-00:00"))
        and _AMPM.search(text) is None
    )


class DateReader:
    """Reads one source's dates; a zone-less date is read in ``tz`` and counted."""

    def __init__(self, tz: tzinfo, tz_name: str, *, key: str = "timezone") -> None:
        self.tz = tz
        self.tz_name = tz_name
        self.key = key
        self.zoneless: list[str] = []

    def read(self, value: object) -> datetime | None:
        """The date ``value`` names, aware; ``None`` when it is not a date at all."""
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            return None
        text = _twenty_four_hour(" ".join(value.split()))
        found = _rfc822(text)
        if found is not None:
            when, known = found
        else:
            parsed = _iso_or_long(text.replace(" ", "T", 1) if re.match(r"\d{4}-", text) else text)
            if parsed is None:
                return None
            when, known = parsed, parsed.tzinfo is not None and parsed.utcoffset() is not None
        if known:
            return when
        self.zoneless.append(value.strip())
        return when.replace(tzinfo=self.tz)

    def problem(self, label: str) -> Problem | None:
        """One report for every date this source gave without a zone, if there were any."""
        if not self.zoneless:
            return None
        count = len(self.zoneless)
        return Problem(
            label,
            f"{count} date{'s' if count != 1 else ''} had no time zone (e.g. "
            f"{self.zoneless[0][:60]!r}); read in {self.tz_name} — set {self.key}: on this "
            "source if the site means another zone",
        )
