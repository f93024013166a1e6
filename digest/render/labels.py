"""Words as the email writes them: the period label and month names, a card's facts line and
grade words."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from digest.models import Facts, Period

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


# ---------------------------------------------------------------------------------------------
# A card's facts and grade, written for a reader
# ---------------------------------------------------------------------------------------------

#: One word per band beside the letter, so colour is never the only signal.
GRADE_WORDS = {"A": "Great", "B": "Good", "C": "Mixed", "D": "Poor", "F": "Bad"}
_TIMES = re.compile(r"(?<=\d)\s*[xX]\s*(?=\d)")


def grade_label(letter: str) -> str:
    """``A-`` → ``A−``: the badge's letter with a real minus sign."""
    return letter.replace("-", "\u2212")


def grade_word(letter: str) -> str:
    """The band's word (``Great`` … ``Bad``) shown beside the letter."""
    return GRADE_WORDS.get(letter[:1], "")


def certificate_label(certificate: str) -> str:
    """``15`` → ``Rated 15``: a bare age rating or any certificate, labelled so it never reads
    as a count. Ratings that already say what they are (``Rated R``, ``TV-14``) gain "Rated"
    only when they do not start with it."""
    if certificate.lower().startswith(("rated", "cert")):
        return certificate
    return f"Rated\u00a0{certificate}"  # a no-break space: never "Rated" at a line's end


def facts_line(facts: Facts) -> str:
    """``Cinema release; 2026; 15; 108 min.`` → ``Cinema release · 2026 · Rated 15 · 108 min``.

    The network, the year, the labelled certificate and the runtime (``6 x 50 min`` →
    ``6 × 50 min``; these two with no-break spaces, so neither is split across lines), in that
    order, each when known; a line the collector could not read into parts keeps its own
    words, its ``;`` written as `` · ``."""
    if facts.year is None:
        return " · ".join(p.strip() for p in facts.raw.rstrip(".").split(";") if p.strip())
    parts = [
        facts.network or "",
        str(facts.year),
        certificate_label(facts.certificate) if facts.certificate else "",
        _TIMES.sub(" × ", facts.runtime).replace(" ", "\u00a0") if facts.runtime else "",
    ]
    return " · ".join(p for p in parts if p)
