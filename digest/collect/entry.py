"""From one feed entry or WordPress post to a ``Review``: the part both network sources share.

The entry's HTML is sanitised and read into plain-text paragraphs (``digest.sanitize``), the
paragraphs are read for labels (``digest.fields``), and the featured image is picked from what
the source offered first, then the first image in the content. Anything unusable in a single
field (a ``javascript:`` image, a rating that is not a grade) becomes a warning and the field is
left empty; only an entry without a title or date is not a review at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.collect import fields
from digest.collect.sanitize import clean_text, read_html
from digest.errors import ReviewError
from digest.models import Image, Review

#: A date further ahead than this is a mistake in the feed, not a scheduled post.
FUTURE_SLACK = timedelta(days=1)
#: The overview of an entry with no ``Overview:`` label is its first paragraph, this long at most.
MAX_PLAIN_OVERVIEW = 400
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class ImageOffer:
    """An image the source named for an entry (media:content, enclosure, featured media…)."""

    url: str
    alt: str = ""
    width: int | None = None
    height: int | None = None
    credit: str = ""


def to_int(value: object) -> int | None:
    """A positive size from text or a number; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 100_000 else None
    if isinstance(value, str) and value.strip().isdigit():
        return to_int(int(value.strip()))
    return None


def check_date(published: datetime | None, now: datetime, what: str) -> datetime:
    """The entry's date, or a ``ReviewError`` saying why it can't be used."""
    if published is None:
        raise ReviewError(f"{what}: no readable publication date; the entry was skipped")
    if published > now + FUTURE_SLACK:
        raise ReviewError(
            f"{what}: dated {published.isoformat()}, in the future; the entry was skipped "
            "(check the dates the feed publishes)"
        )
    return published


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def build_review(
    *,
    source: str,
    key: str,
    title: str,
    link: str | None,
    published: datetime,
    author: str,
    html: str,
    offers: list[ImageOffer],
) -> tuple[Review, list[str]]:
    """A ``Review`` and the warnings about single fields; ``ReviewError`` when it has no title."""
    what = f"entry {_shorten(title or key, 80)!r}"
    paragraphs, content_images = read_html(html, base_url=link)
    found = fields.parse_review_text("\n\n".join(paragraphs))
    warnings = [f"{what}: {w}" for w in found.warnings]
    overview = found.overview
    sections = found.sections
    if not found.found and paragraphs:
        # An unlabelled post is still listed: its opening paragraph stands in for the overview.
        overview = _shorten(paragraphs[0], MAX_PLAIN_OVERVIEW)
        sections = ()
    offers = offers + [
        ImageOffer(src, alt, to_int(width), to_int(height))
        for src, alt, width, height in content_images
        if src
    ]
    image: Image | None = None
    for offer in offers:
        try:
            image = Image(
                url=offer.url.strip(),
                alt=clean_text(offer.alt) or title,
                credit=found.credit or offer.credit,
                width=offer.width,
                height=offer.height,
            )
            break
        except ReviewError:
            warnings.append(f"{what}: image {offer.url[:80]!r} is not an http(s) URL; skipped")
    review = Review(
        title=title,
        published=published,
        source=source,
        key=key,
        link=link,
        author=_shorten(clean_text(author), MAX_NAME),
        overview=overview,
        facts=found.facts,
        sections=sections,
        verdict=found.verdict,
        grade=found.grade,
        image=image,
    )
    return review, warnings
