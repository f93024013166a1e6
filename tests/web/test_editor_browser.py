"""A real browser (headless Debian chromium) on the editor's pages: the approve page a proof
links to, and the preview of an issue with an editor's note — its HTML and its text part,
re-rendered live when the note changes."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.browser import chromium, page_at, serve_app
from support.clock import BERLIN, MIDWEEK
from support.scheduling import query, write_config, write_reviews
from support.web import running

from digest.schedule.tick import tick
from digest.web.preview import create_preview_app

pytestmark = pytest.mark.browser

FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)

NOTE = """\
## This week

Three **festival** premieres, and one [late discovery](https://reel.example.org/late/).
<script>document.title = "pwned"</script> <img src=x onerror="document.title='pwned'">
[a trap](javascript:document.title='pwned')
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_the_approve_page_in_a_real_browser(tmp_path: Path, browser: Any) -> None:
    config = write_config(
        tmp_path, approval="required", prepare="0 10 * * fri", editors=["ed@reel.example.org"]
    )
    write_reviews(config, [FRIDAY - timedelta(days=2)])
    assert tick(config, now=FRIDAY).proofed is not None
    box = mailbox.Maildir(config.outbox, create=False)
    (proof,) = list(box)
    assert str(proof["To"]) == "ed@reel.example.org"
    text = proof.get_payload()[0].get_payload(decode=True).decode()
    found = re.search(r"https://reel\.example\.org(/approve/\S+)", text)
    assert found is not None
    with running(config) as base, page_at(browser, 600) as page:
        page.goto(base + found.group(1))
        assert page.get_by_role("heading", level=1).inner_text() == "Approve issue 2026-W49"
        assert "1 review, prepared Fri 27 Nov 2026 10:00 CET" in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "approve.png"))
        assert query(config, "SELECT status FROM approvals")[0]["status"] == "proofed"
        page.get_by_role("button", name="Approve issue 2026-W49").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "Issue 2026-W49 approved"
        page.screenshot(path=str(tmp_path / "approved.png"))
        response = page.goto(base + found.group(1))  # used: the link works once
        assert response is not None and response.status == 404
    assert query(config, "SELECT status FROM approvals")[0]["status"] == "approved"


def test_an_issue_with_a_note_in_html_and_text_and_live(tmp_path: Path, browser: Any) -> None:
    config = write_config(tmp_path)
    (title,) = write_reviews(config, [MIDWEEK - timedelta(days=1)])
    notes = config.folder / "notes"
    notes.mkdir()
    (notes / "2026-W48.md").write_text(NOTE, encoding="utf-8")
    app = create_preview_app(config.path, clock=lambda: MIDWEEK)
    with serve_app(app) as base, page_at(browser, 600) as page:
        page.goto(base + "/")
        banner = page.locator(".preview-stage").inner_text()
        assert "Issue 2026-W48: collecting" in banner and "note: 2026-W48.md" in banner
        note = page.locator(".note-text")
        assert note.get_by_role("heading", name="This week").is_visible()
        assert "Three festival premieres" in note.inner_text()
        link = note.get_by_role("link", name="late discovery")
        assert link.get_attribute("href") == "https://reel.example.org/late/"
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert page.title() != "pwned" and page.locator("script").count() == 0
        # The javascript: link stays text; the img and script tags were typed, so they show.
        assert note.locator("img").count() == 0 and note.locator("a").count() == 1
        # At the top: above the first review's card.
        card = page.get_by_text(title, exact=True).first
        assert note.bounding_box()["y"] < card.bounding_box()["y"]
        page.screenshot(path=str(tmp_path / "note.png"), full_page=True)

        page.goto(base + "/text")
        body = page.locator("pre").inner_text()
        assert "Three **festival** premieres" in body
        assert body.index("Three **festival**") < body.index(title)

        (notes / "2026-W48.md").write_text("A quieter week, and a good one.\n", encoding="utf-8")
        page.goto(base + "/")
        assert page.locator(".note-text").inner_text().strip() == "A quieter week, and a good one."
