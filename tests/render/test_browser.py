"""The preview in a real browser: Debian's headless chromium at phone and desktop widths."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import chromium, page_at, serve_app
from support.render_reviews import CONFIG_YAML, write_review_files

from digest.web.preview import create_preview_app

pytestmark = pytest.mark.browser

CARDS_JS = """
() => Array.from(document.querySelectorAll('.card')).map(card => ({
    title: (card.querySelector('.card-title') || {}).innerText || '',
    overview: (card.querySelector('.card-overview') || {}).innerText || '',
    grade: (card.querySelector('.badge') || {}).innerText || '',
    visible: card.getBoundingClientRect().width > 0,
}))
"""


def test_preview_fits_phone_and_desktop_with_alt_title_overview_and_grade(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")
    with serve_app(create_preview_app(config)) as base, chromium() as browser:
        for width in (375, 600):
            with page_at(browser, width) as page:
                page.goto(f"{base}/")
                scroll, inner = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert scroll <= inner, f"horizontal scrolling at {width}px"
                alts = page.evaluate(
                    "Array.from(document.images).map(i => i.getAttribute('alt') || '')"
                )
                assert len(alts) == 6 and all(a.strip() for a in alts)
                cards = page.evaluate(CARDS_JS)
                assert len(cards) == 6
                for card in cards:
                    assert card["visible"] and card["title"] and card["overview"] and card["grade"]
                # Under 480px the column takes the whole width; cards never overflow.
                widths = page.evaluate(
                    "Array.from(document.querySelectorAll('.card')).map("
                    "c => c.getBoundingClientRect().right)"
                )
                assert max(widths) <= width
                page.screenshot(path=str(tmp_path / f"digest-{width}.png"), full_page=True)
        with page_at(browser, 600) as page:
            page.emulate_media(color_scheme="dark")
            page.goto(f"{base}/")
            background = page.evaluate(
                "getComputedStyle(document.querySelector('.card')).backgroundColor"
            )
            assert background == "rgb(22, 27, 34)"  # the dark palette applied
            page.screenshot(path=str(tmp_path / "digest-dark.png"))
        with page_at(browser, 800) as page:
            page.goto(f"{base}/phone")
            frame = page.frame_locator("iframe")
            assert frame.locator(".card").count() == 6
            page.screenshot(path=str(tmp_path / "digest-phone-frame.png"))
    assert (tmp_path / "digest-375.png").stat().st_size > 10_000
