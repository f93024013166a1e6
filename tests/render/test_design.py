"""The design, read as a reader would, in headless Chromium: a 20-review issue with landscape,
portrait, square, unsized and missing pictures at 375 and 600 px, light and dark, images shown
and blocked — and its height against the templates before the redesign, in the same run.

The pictures are PNGs of each shape served over https by a loopback server (a test CA);
nothing leaves 127.0.0.1. Screenshots go to the test's tmp folder; their paths are printed.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.browser import chromium, page_at
from support.http import ScriptedServer
from support.images import png
from support.issue20 import ENTRIES, twenty_reviews
from support.render_reviews import NOW, make_config, week_period

from digest.models import Review
from digest.render.compose import neutral_html, render_digest

pytestmark = pytest.mark.browser

#: The templates as they were before the redesign (issue 15), kept to measure against.
BEFORE = Path(__file__).parent / "fixtures" / "before_15"
#: A small phone's screen (iPhone SE): no card may be taller.
PHONE = (375, 667)
WIDE = (600, 900)

STATE_JS = """
() => {
  const box = e => e.getBoundingClientRect();
  const cards = Array.from(document.querySelectorAll('.card:not(.more)')).map(c => {
    const anchor = c.id ? c : c.querySelector('.hero-anchor');
    const th = c.querySelector('td.th'), tb = c.querySelector('td.tb');
    return {
      id: anchor ? anchor.id : '', height: box(c).height, width: box(c).width,
      text: c.innerText.replace(/\\s+/g, ' '),
      th: th ? {left: box(th).left, right: box(th).right, top: box(th).top} : null,
      tb: tb ? {left: box(tb).left, width: box(tb).width, top: box(tb).top} : null,
      images: Array.from(c.querySelectorAll('img')).map(i => {
        const s = getComputedStyle(i), frame = i.closest('.frame') || i.parentElement;
        return {w: box(i).width, h: box(i).height, natural: i.naturalWidth, alt: i.alt,
                bg: s.backgroundColor, color: s.color, frameW: box(frame).width};
      }),
    };
  });
  const badges = Array.from(document.querySelectorAll('.badge')).map(b => {
    const s = getComputedStyle(b);
    return {text: b.innerText.trim(), bg: s.backgroundColor, color: s.color,
            band: (b.className.match(/badge-([A-F])/) || [])[1] || ''};
  });
  return {
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    height: document.documentElement.scrollHeight, cards, badges,
    glance: Array.from(document.querySelectorAll('.gl a')).map(a => a.getAttribute('href')),
  };
}
"""


def _rgb(css: str) -> tuple[float, float, float]:
    found = re.findall(r"[\d.]+", css)
    assert len(found) >= 3, css
    return float(found[0]), float(found[1]), float(found[2])


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two CSS colours (``rgb(…)`` as computed styles give them)."""

    def luminance(css: str) -> float:
        def channel(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b_ = (channel(c) for c in _rgb(css))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[Review, ...]]]:
    """Both designs of the same 20-review issue, and its pictures, over https on loopback."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ScriptedServer(tls=context)

    def image_url(slug: str, width: int, height: int) -> str:
        path = f"/{slug}-{width}x{height}.png"
        server.route(path, png(width, height), headers={"Content-Type": "image/png"})
        return server.url(path)

    reviews = twenty_reviews(image_url)
    folder = tmp_path_factory.mktemp("design")
    for name, extra in (("after", ""), ("before", f"templates: {BEFORE}\n")):
        config = make_config(folder / name, extra)
        rendered = render_digest(config, week_period(), reviews, now=NOW)
        if name == "after":  # the new design fits every card under Gmail's clip
            assert rendered.reviews == (reviews[0], *reviews[1:]) and not rendered.warnings
        page = neutral_html(rendered, config.newsletter.base_url)
        server.route(f"/{name}.html", page.encode(), headers={"Content-Type": "text/html"})
    server.start()
    try:
        yield server.url("/"), reviews
    finally:
        server.stop()


def _check_cards(state: dict[str, Any], reviews: tuple[Review, ...], where: str) -> None:
    cards = state["cards"]
    assert len(cards) == 20, where
    by_title = {r.title: r for r in reviews}
    ids = [c["id"] for c in cards]
    assert all(ids) and len(set(ids)) == 20, where
    # At a glance links to every card, the pick's included, in order.
    assert state["glance"] == [f"#{i}" for i in ids], where
    for card in cards:
        review = next(r for t, r in by_title.items() if t in card["text"])
        if review.author:
            assert f"By {review.author}" in card["text"], (where, review.title)
        if review.verdict:
            assert f"“{review.verdict}”" in card["text"], (where, review.title)
        # The facts as a person writes them, the certificate labelled; never the raw line.
        assert review.facts is not None and review.facts.raw not in card["text"], where
        assert f"Rated {review.facts.certificate}" in card["text"], (where, review.title)
        assert len(card["images"]) == (1 if review.image else 0), (where, review.title)
        for img in card["images"]:
            # Every shape sits inside its frame: never wider, never taller than the frame.
            assert img["w"] <= img["frameW"] + 0.5, (where, review.title)
            assert img["h"] <= img["frameW"] * 0.75 + 1 or img["frameW"] > 300, where
            assert img["h"] <= 338.5, (where, review.title)


def _check_badges(state: dict[str, Any], where: str) -> None:
    badges = state["badges"]
    assert len(badges) == 20, where
    colours: dict[str, set[str]] = {}
    for badge in badges:
        ratio = contrast(badge["color"], badge["bg"])
        assert ratio >= 4.5, (where, badge, ratio)
        # The label is never only a colour: the letter and the band's word.
        assert re.fullmatch(r"[A-DF][+−]? (Great|Good|Mixed|Poor|Bad)", badge["text"]), badge
        colours.setdefault(badge["band"], set()).add(badge["bg"])
    # Five bands, five colours, each band always the same one.
    assert sorted(colours) == ["A", "B", "C", "D", "F"], where
    assert all(len(c) == 1 for c in colours.values()), where
    assert len({next(iter(c)) for c in colours.values()}) == 5, where


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_twenty_reviews_at_phone_and_wide_widths(
    site: tuple[str, tuple[Review, ...]], scheme: str, tmp_path: Path
) -> None:
    base, reviews = site
    with chromium() as browser:
        for size in (PHONE, WIDE):
            for blocked in (False, True):
                where = f"{size[0]}px {scheme}, images {'off' if blocked else 'on'}"
                with page_at(browser, size[0], size[1], block_images=blocked) as page:
                    page.emulate_media(color_scheme=scheme)
                    page.goto(base + "after.html", wait_until="load")
                    state = page.evaluate(STATE_JS)
                    shot = tmp_path / f"{size[0]}-{scheme}-{'off' if blocked else 'on'}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    print(f"screenshot: {shot}")
                assert state["scroll"] <= state["inner"] == size[0], f"scrolls sideways: {where}"
                _check_cards(state, reviews, where)
                _check_badges(state, where)
                if size == PHONE:
                    tallest = max(c["height"] for c in state["cards"])
                    assert tallest < PHONE[1], f"a card {tallest}px tall at {where}"
                _check_layout(state, size[0], where)
                for card in state["cards"]:
                    for img in card["images"]:
                        if blocked:  # a styled box with readable alt text, light and dark
                            assert img["natural"] == 0 and img["alt"], where
                            assert contrast(img["color"], img["bg"]) >= 4.5, (where, img)
                            assert img["w"] > 0 and img["h"] > 0, where
                        else:
                            assert img["natural"] > 0, where


def _check_layout(state: dict[str, Any], width: int, where: str) -> None:
    """Wide: the thumbnail beside the text. Phone: the thumbnail floats at the top and the
    text runs under it across the card."""
    compact = [c for c in state["cards"] if c["th"] is not None]
    assert len(compact) >= 12, where
    for card in compact:
        th, tb = card["th"], card["tb"]
        if width >= 480:
            assert th["right"] <= tb["left"] + 0.5 and abs(th["top"] - tb["top"]) < 4, where
        else:
            assert tb["width"] >= card["width"] - 1, where


def test_twenty_reviews_take_at_most_half_the_height_of_the_old_design(
    site: tuple[str, tuple[Review, ...]], tmp_path: Path
) -> None:
    base, _ = site
    heights = {}
    with chromium() as browser:
        for name in ("before", "after"):
            with page_at(browser, *PHONE) as page:
                page.goto(base + f"{name}.html", wait_until="load")
                heights[name] = page.evaluate("document.documentElement.scrollHeight")
                shot = tmp_path / f"{name}-375.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot: {shot}")
    ratio = heights["after"] / heights["before"]
    print(f"height at 375 px: before {heights['before']} px, after {heights['after']} px "
          f"({ratio:.2f} ×)")  # fmt: skip
    assert heights["after"] <= 0.5 * heights["before"], heights
    assert len(ENTRIES) == 20
