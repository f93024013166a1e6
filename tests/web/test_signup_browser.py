"""The sign-up form and the confirmation page in a real browser (headless Debian chromium),
on a phone-sized screen, with the confirmation mail caught by a real SMTP server: the address
becomes active and gets the next issue, and signing up again from outside looks the same."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import chromium, page_at
from support.smtp import NOW, Sink, write_reviews
from support.web import running, status_of, write_web_config

from digest.pipeline.run import run_once

pytestmark = pytest.mark.browser
LINK = re.compile(r"https://lateshow\.example\.org(/confirm/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _wait_for(sink: Sink, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(sink.received) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # and no more than that


def _sign_up(page: Any, base: str, email: str) -> str:
    """Fill in and send the form; the answer page's text."""
    page.goto(f"{base}/subscribe")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Name").fill("Pat")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    return str(page.locator("body").inner_text())


def test_sign_up_and_confirm_on_a_phone(browser: Any, sink: Sink, tmp_path: Path) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    config = write_web_config(tmp_path, smtp=smtp, signup={})
    with running(config) as base, page_at(browser, 360, 740) as page:
        page.goto(f"{base}/subscribe")
        trap = page.locator("#website").bounding_box()
        assert trap is None or trap["x"] + trap["width"] <= 0  # people never see the trap
        page.get_by_label("Email address").fill("phone.reader@example.net")
        page.get_by_label("Name").fill("Pat")
        button = page.get_by_role("button", name="Subscribe")
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        page.screenshot(path=str(tmp_path / "subscribe.png"), full_page=True)
        button.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "Check your inbox"
        assert status_of(config, "phone.reader@example.net") == "pending"

        deadline = time.monotonic() + 10
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.05)
        text = sink.received[0].message.get_body(("plain",)).get_content()
        path = LINK.search(text).group(1)  # type: ignore[union-attr]
        page.goto(base + path)
        assert page.get_by_role("heading", level=1).inner_text() == "Confirm your subscription"
        assert status_of(config, "phone.reader@example.net") == "pending"
        page.get_by_role("button", name="Confirm my subscription").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "You are subscribed"
        page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=True)
    assert status_of(config, "phone.reader@example.net") == "active"

    # The next issue goes to them.
    write_reviews(tmp_path / "reviews", 2)
    assert run_once(config, now=NOW).sent == 1
    _wait_for(sink, 2)
    issue = sink.received[-1]
    assert issue.rcpt_tos == ["phone.reader@example.net"] and "List-Unsubscribe" in issue.message


def test_signing_up_an_address_already_on_the_list_looks_the_same(
    browser: Any, sink: Sink, tmp_path: Path
) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    config = write_web_config(tmp_path, smtp=smtp, signup={})
    with running(config) as base, page_at(browser, 360, 740) as page:
        first = _sign_up(page, base, "pat.reader@example.net")
        _wait_for(sink, 1)
        text = sink.received[0].message.get_body(("plain",)).get_content()
        page.goto(base + LINK.search(text).group(1))  # type: ignore[union-attr]
        page.get_by_role("button", name="Confirm my subscription").click()
        page.wait_for_load_state()
        assert status_of(config, "pat.reader@example.net") == "active"
        # The same person (or anyone) signing the active address up again sees the same page,
        # and nothing is sent.
        again = _sign_up(page, base, "pat.reader@example.net")
        _wait_for(sink, 2)
    assert "Check your inbox" in first and again == first
    assert len(sink.received) == 1
    assert status_of(config, "pat.reader@example.net") == "active"
