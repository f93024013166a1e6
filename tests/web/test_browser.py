"""A real browser (headless Debian chromium) on the unsubscribe page and the archive.

The issue in the archive is a real one: collected, rendered and sent by ``run_once`` into the
Maildir outbox, then served by ``digest serve``'s app on uvicorn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import chromium, page_at
from support.smtp import NOW, add_subscribers, write_config, write_reviews
from support.web import running, status_of

from digest.config import Config, load_config
from digest.pipeline.run import run_once
from digest.state import db, subscribers

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium for the module; each test still gets a fresh context (page_at)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def sent(tmp_path: Path) -> Config:
    """Three subscribers who were each sent this week's issue of three reviews."""
    config = load_config(write_config(tmp_path))
    write_reviews(tmp_path / "reviews", 3)
    add_subscribers(config, 3)
    result = run_once(config, now=NOW)
    assert (result.outcome, result.sent) == ("sent", 3)
    return config


def _people(config: Config) -> list[subscribers.Subscriber]:
    conn = db.connect(config.state)
    try:
        return subscribers.listing(conn)
    finally:
        conn.close()


def test_the_unsubscribe_button_in_a_real_browser(
    sent: Config, browser: Any, tmp_path: Path
) -> None:
    leaving, *staying = _people(sent)
    with running(sent) as base, page_at(browser, 900) as page:
        page.goto(f"{base}/unsubscribe/{leaving.token}")
        assert page.get_by_role("heading", level=1).inner_text() == (
            "Unsubscribe from The Test Reel?"
        )
        assert "r•••@example.net" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "unsubscribe-confirm.png"), full_page=True)
        page.reload()  # a second look, like a scanner or a cautious reader, changes nothing
        assert status_of(sent, leaving.email) == "active"

        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_url(f"{base}/unsubscribe/{leaving.token}")
        assert page.get_by_role("heading", level=1).inner_text() == "You’re unsubscribed"
        assert page.get_by_role("status").is_visible()
        page.screenshot(path=str(tmp_path / "unsubscribe-done.png"), full_page=True)
    assert status_of(sent, leaving.email) == "unsubscribed"
    assert [status_of(sent, s.email) for s in staying] == ["active", "active"]


def test_the_confirm_page_fits_a_phone(sent: Config, browser: Any, tmp_path: Path) -> None:
    person = _people(sent)[0]
    with running(sent) as base, page_at(browser, 360, 740) as page:
        page.goto(f"{base}/unsubscribe/{person.token}")
        box = page.get_by_role("button", name="Unsubscribe").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360  # no sideways scrolling
        page.screenshot(path=str(tmp_path / "unsubscribe-phone.png"), full_page=True)
    assert status_of(sent, person.email) == "active"


def test_the_archive_of_a_sent_issue_in_a_real_browser(
    sent: Config, browser: Any, tmp_path: Path
) -> None:
    people = _people(sent)
    blocked: list[str] = []
    with running(sent) as base, page_at(browser, 1000) as page:
        page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else 0)
        page.goto(f"{base}/issues")
        row = page.get_by_role("row").filter(has_text="2026-W48")
        assert "3" in row.inner_text()
        page.screenshot(path=str(tmp_path / "archive-list.png"), full_page=True)
        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(tmp_path / "archive-list-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1000, "height": 900})
        row.get_by_role("link").click()
        page.wait_for_url(f"{base}/issues/2026-W48")
        shown = page.inner_text("body")
        html = page.content()
        page.screenshot(path=str(tmp_path / "archive-issue.png"), full_page=True)
    for n in range(3):
        assert f"Test Picture Number {n}" in shown
    for person in people:
        for private in (person.email, person.token, person.name):
            assert private not in html, private
    assert not re.search(r"dgst[0-9a-f]{16}", html)
    assert "https://reel.example.org/unsubscribe" in html  # the neutral link, nobody's token
    assert blocked == []  # the archive's CSP leaves the email's own styling alone


def test_email_archive_and_sign_up_share_one_look(tmp_path: Path, browser: Any) -> None:
    """The archive, an issue page, the sign-up form and the unsubscribe page use the email's
    palette and type, light and dark; an issue page links back to the archive and to sign-up
    and greets no one."""
    config = load_config(write_config(tmp_path, signup={}))
    write_reviews(tmp_path / "reviews", 3)
    add_subscribers(config, 1)
    assert run_once(config, now=NOW).sent == 1
    token = _people(config)[0].token
    look_js = """() => {
      const s = e => getComputedStyle(e);
      const link = document.querySelector('nav a, .archive-nav a, .txt a');
      const title = document.querySelector('h1, .masthead-title, .masthead');
      return {page: s(document.body).backgroundColor, accent: s(link).color,
              title: s(title).fontFamily};
    }"""
    palettes = {
        "light": ("rgb(243, 241, 236)", "rgb(156, 43, 31)"),
        "dark": ("rgb(13, 17, 23)", "rgb(255, 147, 138)"),
    }
    with running(config) as base:
        for scheme, (paper, accent) in palettes.items():
            with page_at(browser, 375) as page:
                page.emulate_media(color_scheme=scheme)
                for path in ("/issues", "/issues/2026-W48", "/subscribe", f"/unsubscribe/{token}"):
                    page.goto(base + path)
                    look = page.evaluate(look_js)
                    assert look["page"] == paper, (scheme, path, look)
                    assert look["accent"] == accent, (scheme, path, look)
                    assert "Georgia" in look["title"], (scheme, path, look)
                    name = {"/issues": "archive", "/issues/2026-W48": "issue"}.get(
                        path, path.split("/")[1]
                    )
                    shot = tmp_path / f"look-{scheme}-{name}.png"
                    page.screenshot(path=str(shot), full_page=True)
                page.goto(base + "/issues/2026-W48")
                text = page.inner_text("body")
                assert "Hello" not in text and "reader," not in text
                assert page.evaluate("document.documentElement.scrollWidth") <= 375
                page.get_by_role("link", name="Subscribe").first.click()
                page.wait_for_url(f"{base}/subscribe")
                page.go_back()
                page.get_by_role("link", name=re.compile("All issues")).click()
                page.wait_for_url(f"{base}/issues")
