"""Pictures on every card, in a real browser: phone to desktop widths, light, dark and
Chromium's forced dark mode (the nearest to the Gmail app's inversion), images loaded and
blocked. The images are PNGs served over https by a loopback server; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.browser import chromium, page_at
from support.http import ScriptedServer
from support.images import png
from support.render_reviews import NOW, make_config, make_review, week_period

from digest.models import Image
from digest.render.cards import HERO_FRAME, THUMB_FRAME, fit
from digest.render.compose import neutral_html, render_digest

pytestmark = pytest.mark.browser

WIDTHS = (320, 375, 414, 600)
#: (width, height) of each card's picture: film stills, a square and a wide banner.
SIZES = [(1200, 675)] * 5 + [(1000, 1000), (1600, 400), (1200, 675)]
FORCED_DARK = ("--force-dark-mode", "--enable-features=WebContentsForceDark")

STATE_JS = """
() => ({
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  cards: Array.from(document.querySelectorAll('.card:not(.more)')).map(c => ({
    right: c.getBoundingClientRect().right,
    images: c.querySelectorAll('img').length,
  })),
  images: Array.from(document.querySelectorAll('.card img')).map(i => {
    const r = i.getBoundingClientRect(), s = getComputedStyle(i);
    return {w: r.width, h: r.height, right: r.right, natural: i.naturalWidth,
            attrW: i.getAttribute('width'), attrH: i.getAttribute('height'),
            bg: s.backgroundColor, font: s.fontFamily, align: s.textAlign, alt: i.alt};
  }),
  cardBackground: getComputedStyle(document.querySelector('.card')).backgroundColor,
})
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The digest (every card with a sized picture) and its images, over https on loopback."""
    ca = trustme.CA()
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ScriptedServer(tls=context)
    reviews = []
    for i, (w, h) in enumerate(SIZES):
        path = f"/still-{i}.png"
        server.route(path, png(w, h), headers={"Content-Type": "image/png"})
        review = make_review(f"Picture number {i + 1}", grade="A" if i == 0 else "BCDF"[i % 4])
        image = Image(url=server.url(path), alt=f"A still from Picture number {i + 1}",
                      credit="Studio", width=w, height=h)  # fmt: skip
        reviews.append(dataclasses.replace(review, image=image))
    config = make_config(tmp_path_factory.mktemp("pictures"))
    rendered = render_digest(config, week_period(), tuple(reviews), now=NOW)
    assert len(rendered.reviews) == len(SIZES)
    server.route("/digest.html", neutral_html(rendered, config.newsletter.base_url),
                 headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
    server.start()
    try:
        yield server.url("/digest.html")
    finally:
        server.stop()


def _check(state: dict[str, Any], width: int, blocked: bool, dark: bool) -> None:
    where = f"{width}px, images {'blocked' if blocked else 'shown'}"
    assert state["scroll"] <= state["inner"] == width, f"horizontal scrolling at {where}"
    assert len(state["cards"]) == len(SIZES) and all(c["images"] == 1 for c in state["cards"])
    assert max(c["right"] for c in state["cards"]) <= width
    for n, (img, (w, h)) in enumerate(zip(state["images"], SIZES, strict=True)):
        # The first card is the pick: the hero's 600 × 338 frame; the others a 120 × 90
        # thumbnail frame (80 px wide on phones). Every shape fits inside, whole.
        frame = HERO_FRAME if n == 0 else THUMB_FRAME
        box = fit(w, h, frame)
        # Numeric width and height attributes (never "auto"), from the declared size.
        assert re.fullmatch(r"\d+", img["attrW"]) and re.fullmatch(r"\d+", img["attrH"])
        assert (int(img["attrW"]), int(img["attrH"])) == (box["w"], box["h"]), where
        shown_frame = min(width, 600) if n == 0 else (120 if width >= 480 else 80)
        # Fluid: the frame's share of the width, the declared aspect ratio kept — loaded or
        # not, so a blocked picture still reserves its box.
        assert abs(img["w"] - shown_frame * box["pct"] / 100) <= 1.0, where
        assert img["right"] <= width, where
        assert abs(img["h"] - img["w"] * box["h"] / box["w"]) <= 1.0, where
        assert img["h"] <= shown_frame * frame[1] / frame[0] + 1.0, where
        if blocked:
            assert img["natural"] == 0
            # The alt text sits on a neutral box, centred, in the sans-serif of the cards.
            assert img["bg"] == ("rgb(48, 54, 61)" if dark else "rgb(230, 225, 214)")
            assert "Helvetica" in img["font"] and img["align"] == "center" and img["alt"]
        else:
            assert img["natural"] == w, where


@pytest.mark.parametrize("mode", ["light", "dark", "forced-dark"])
def test_every_picture_fits_and_keeps_its_box(site: str, mode: str, tmp_path: Path) -> None:
    with chromium(*(FORCED_DARK if mode == "forced-dark" else ())) as browser:
        for blocked in (False, True):
            for width in WIDTHS:
                with page_at(browser, width, block_images=blocked) as page:
                    if mode == "dark":
                        page.emulate_media(color_scheme="dark")
                    page.goto(site, wait_until="load")
                    state = page.evaluate(STATE_JS)
                    _check(state, width, blocked, dark=mode == "dark")
                    if mode == "dark":
                        assert state["cardBackground"] == "rgb(22, 27, 34)"
                    shot = tmp_path / f"{mode}-{'blocked' if blocked else 'images'}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert shot.stat().st_size > 5_000
