"""Entry dates as RFC 822 and RFC 3339 define them; a zone-less date in the source's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.collect.dates import DateReader

LONDON = ZoneInfo("Europe/London")
PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Mon, 23 Nov 2026 21:30:00 +0100", datetime(2026, 11, 23, 21, 30, tzinfo=PLUS_ONE)),
        ("23 Nov 2026 20:30 GMT", datetime(2026, 11, 23, 20, 30, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 15:30:00 EST", datetime(2026, 11, 23, 20, 30, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 09:30 PM +0100", datetime(2026, 11, 23, 21, 30, tzinfo=PLUS_ONE)),
        ("Mon, 23 Nov 2026 12:15 AM +0000", datetime(2026, 11, 23, 0, 15, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 20:30:00 -0000", datetime(2026, 11, 23, 20, 30, tzinfo=UTC)),
        ("2026-11-23T21:30:00+01:00", datetime(2026, 11, 23, 21, 30, tzinfo=PLUS_ONE)),
        ("2026-11-23T20:30:00Z", datetime(2026, 11, 23, 20, 30, tzinfo=UTC)),
    ],
)
def test_dates_with_a_zone(text: str, when: datetime) -> None:
    reader = DateReader(LONDON, "Europe/London")
    assert reader.read(text) == when
    assert reader.zoneless == [] and reader.problem("s") is None


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("Mon, 23 Nov 2026 09:30 PM", datetime(2026, 11, 23, 21, 30)),  # never 12 hours off
        ("Mon, 23 Nov 2026 21:30:00 BST", datetime(2026, 11, 23, 21, 30)),  # not an RFC 822 zone
        ("November 23, 2026 9:30 pm", datetime(2026, 11, 23, 21, 30)),
        ("2026-11-23 21:30", datetime(2026, 11, 23, 21, 30)),
        ("2026-11-23", datetime(2026, 11, 23)),
    ],
)
def test_a_zone_less_date_is_read_in_the_source_zone_and_reported(
    text: str, local: datetime
) -> None:
    reader = DateReader(ZoneInfo("America/New_York"), "America/New_York", key="sources[2].timezone")
    assert reader.read(text) == local.replace(tzinfo=ZoneInfo("America/New_York"))
    problem = reader.problem("blog")
    assert problem is not None and problem.message.startswith(
        f"1 date had no time zone (e.g. {text!r})"
    )
    assert "read in America/New_York — set sources[2].timezone: on this source" in problem.message


@pytest.mark.parametrize(
    "text", ["", "the day after tomorrow", "32 Nov 2026 10:00 +0000", "x" * 200]
)
def test_what_is_not_a_date(text: str) -> None:
    assert DateReader(UTC, "UTC").read(text) is None
