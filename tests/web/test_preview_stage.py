"""``/preview`` names the state of the issue editors work on — collecting, proofed, approved,
held, sent — and its note; an approved issue is shown as approved, whatever changed since."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from support.browser import serve_app
from support.clock import BERLIN
from support.scheduling import add_subscribers, write_config, write_reviews

from digest.schedule.editorial import approve_issue, upcoming_period
from digest.schedule.tick import tick
from digest.web.preview import create_preview_app

FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)


def test_the_preview_follows_the_issue_through_the_week(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, approval="required", prepare="0 10 * * fri", editors=["ed@reel.example.org"]
    )
    (title,) = write_reviews(config, [FRIDAY - timedelta(days=2)])
    add_subscribers(config, 1)
    clock = [FRIDAY - timedelta(hours=1)]
    app = create_preview_app(config.path, clock=lambda: clock[0], upcoming=upcoming_period)
    with serve_app(app) as base:

        def banner() -> str:
            text = httpx.get(f"{base}/text").text
            return html.unescape(text.split('<p class="preview-stage">', 1)[1].split("</p>")[0])

        assert banner().startswith("Issue 2026-W49: collecting — not prepared yet")
        assert "no note (2026-W49.md in" in banner()
        tick(config, now=FRIDAY)
        clock[0] = FRIDAY + timedelta(hours=1)
        assert banner().startswith("Issue 2026-W49: proofed — proof sent Fri 27 Nov 10:00")
        (config.folder / "notes").mkdir()
        (config.folder / "notes" / "2026-W49.md").write_text("Hello from the desk.\n", "utf-8")
        assert "note: 2026-W49.md" in banner()
        assert "Hello from the desk." in httpx.get(f"{base}/").text  # live: the note is in

        clock[0] = MONDAY
        tick(config, now=MONDAY)
        assert banner().startswith("Issue 2026-W49: held — held since")

        approve_issue(config, "2026-W49", now=MONDAY + timedelta(minutes=30))
        clock[0] = MONDAY + timedelta(hours=1)
        assert banner().startswith("Issue 2026-W49: sent — recorded")
    # Approved but not yet sent: the approved rendering, frozen (the note came after the proof).
    other = write_config(
        tmp_path / "b", approval="required", prepare="0 10 * * fri", editors=["ed@x.org"]
    )
    write_reviews(other, [FRIDAY - timedelta(days=2)])
    tick(other, now=FRIDAY)
    approve_issue(other, None, now=FRIDAY + timedelta(hours=1))
    (other.folder / "notes").mkdir()
    (other.folder / "notes" / "2026-W49.md").write_text("Added too late.\n", "utf-8")
    frozen = create_preview_app(
        other.path, clock=lambda: FRIDAY + timedelta(hours=2), upcoming=upcoming_period
    )
    with serve_app(frozen) as base:
        page = httpx.get(f"{base}/").text
        assert "Issue 2026-W49: approved" in page and "frozen" in page
        assert title.split()[0] in page and "Added too late." not in page
