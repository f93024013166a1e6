"""Choosing an entry's featured image from what the source and the content offer.

Feeds carry more pictures than the one a reader should see: tracking pixels (1×1, or served
by a known counter), share and FeedFlare buttons, avatars, emoji and icons. Those are never
chosen: an image is skipped when its declared width or height is under ``MIN_SIDE``, or its
host or path is a known tracker or button (``UNWANTED_HOSTS``, ``UNWANTED_PATH``).

Of what is left, the source's own offers (media:content and media:group variants, an image
enclosure, media:thumbnail, WordPress featured media with its ``media_details.sizes``,
JSON Feed ``image``) are one picture in several renditions; failing those, the first content
image that survives the filter, with its ``srcset`` candidates as its renditions. Of the
renditions, the one chosen is the largest no wider than ``MAX_WIDTH`` (the 600 px card at
twice the density, for high-resolution screens); when all are wider, the narrowest; one of
unknown size beats a known one narrower than the card (it is usually the original).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

#: Declared width or height below this: a pixel, a button or an icon, never a featured image.
MIN_SIDE = 100
#: The card shows images 600 px wide; twice that for high-density screens.
CARD_WIDTH = 600
MAX_WIDTH = 2 * CARD_WIDTH

UNWANTED_HOSTS = frozenset(
    {"feeds.feedburner.com", "feedproxy.google.com", "feeds2.feedburner.com"}
    | {"pixel.wp.com", "stats.wp.com", "stats.wordpress.com", "feeds.wordpress.com"}
    | {"www.google-analytics.com", "google-analytics.com", "pixel.quantserve.com"}
    | {"b.scorecardresearch.com", "sb.scorecardresearch.com", "pixel.mathtag.com"}
    | {"ad.doubleclick.net", "feedads.g.doubleclick.net", "pubads.g.doubleclick.net"}
    | {"assets.feedblitz.com", "feeds.feedblitz.com", "api.follow.it", "www.facebook.com"}
    | {"rss.feedsportal.com", "da.feedsportal.com", "simg.feedsportal.com", "s.w.org"}
    | {"www.gravatar.com", "secure.gravatar.com", "gravatar.com", "counter.theconversation.com"}
)
#: Paths of trackers, share buttons, FeedFlare, emoji and icons on any host.
UNWANTED_PATH = re.compile(
    r"/~ff/|/~r/|/~a/|feedflare|/_/stat\b|/tracker/|/pixel\b|/beacon\b|1x1\.|spacer\.gif"
    r"|blank\.gif|transparent\.(?:gif|png)|/share/|/sharing/|[-_/]share\.(?:png|gif|svg)"
    r"|share[-_]?(?:button|icon|facebook|twitter|email|linkedin|pinterest|whatsapp|reddit)|sharethis"
    r"|addtoany|/buttons?/|/icons?/|/emoji/|/smilies/|/wp-includes/images/|feed-icon|/avatar/",
    re.I,
)
_SRCSET_ITEM = re.compile(r"^\s*(?P<url>\S+)(?:\s+(?P<size>\d+(?:\.\d+)?)(?P<unit>[wx]))?\s*$")


@dataclass(frozen=True, slots=True)
class ImageOffer:
    """An image the source named for an entry (media:content, enclosure, featured media…).

    ``group`` tells renditions of one picture apart from other pictures: the source's own
    offers are group 0, each content image (with its ``srcset``) a group of its own after it.
    """

    url: str
    alt: str = ""
    width: int | None = None
    height: int | None = None
    credit: str = ""
    group: int = 0


def unwanted(offer: ImageOffer) -> bool:
    """A tracking pixel, a share or FeedFlare button, an icon: never a featured image."""
    if any(side is not None and side < MIN_SIDE for side in (offer.width, offer.height)):
        return True
    try:
        parts = urlsplit(offer.url.strip())
    except ValueError:
        return False  # not a URL at all: ``Image`` refuses it with a warning
    host = (parts.hostname or "").lower()
    return host in UNWANTED_HOSTS or bool(UNWANTED_PATH.search(parts.path + "?" + parts.query))


def _rank(offer: ImageOffer) -> tuple[int, int]:
    width = offer.width
    if width is None:
        return (1, 0)
    if CARD_WIDTH <= width <= MAX_WIDTH:
        return (3, width)
    if width > MAX_WIDTH:
        return (2, -width)  # all too wide: the narrowest
    return (0, width)  # narrower than the card: the widest of them


def choose(offers: list[ImageOffer]) -> Iterator[ImageOffer]:
    """The offers worth trying, best first: by group, then best rendition; unwanted ones
    skipped (checked lazily: the caller usually stops at the first)."""
    # sorted() is stable: among equals, the order the source gave them wins.
    ordered = sorted(offers, key=lambda o: (-o.group, _rank(o)), reverse=True)
    return (o for o in ordered if o.url.strip() and not unwanted(o))


def to_int(value: object) -> int | None:
    """A positive size from text or a number; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 100_000 else None
    if isinstance(value, str) and value.strip().isdigit():
        return to_int(int(value.strip()))
    return None


def content_offers(images: list[tuple[str, ...]], base_url: str | None) -> list[ImageOffer]:
    """Content images ``(src, alt, width, height, srcset)`` as offers, one group per image."""
    offers: list[ImageOffer] = []
    for number, (src, alt, width, height, *rest) in enumerate(images, 1):
        w, h = to_int(width), to_int(height)
        if src:
            offers.append(ImageOffer(src, alt, w, h, group=number))
        for url, candidate in _srcset(rest[0] if rest else "", w):
            absolute = urljoin(base_url or "", url)
            if not absolute.lower().startswith(("http://", "https://")):
                continue  # a srcset is not sanitised: only absolute http(s) candidates count
            ch = round(h * candidate / w) if (h and w and candidate) else None
            offers.append(ImageOffer(absolute, alt, candidate, ch, group=number))
    return offers


def _srcset(value: str, declared: int | None) -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = []
    for item in value.split(",")[:20]:
        m = _SRCSET_ITEM.match(item)
        if not m:
            continue
        size, unit = m.group("size"), m.group("unit")
        if unit == "w" and size:
            width: int | None = int(float(size))
        elif unit == "x" and size and declared:
            width = int(declared * float(size))
        else:
            width = declared
        found.append((m.group("url"), width))
    return found
