"""From one feed entry or WordPress post to a ``Review``: the part both network sources share.

The entry's HTML is sanitised and read into plain-text paragraphs (``digest.sanitize``), the
paragraphs are read for labels (``digest.fields``); the grade comes from the ``Rating:`` label,
else a namespaced element the source read, else JSON-LD in the content, else a paragraph that
is only a grade, else the title (``digest.collect.grades``) — and a grade found outside the
labels is taken off the title and the text. The overview is chosen by
``digest.collect.overview``, the featured image by ``digest.collect.images``. Anything
unusable in a single field (a ``javascript:`` image, a rating that is not a grade) becomes a
warning and the field is left empty; only an entry without a title or date is not a review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr

from digest.collect import fields, grades, images
from digest.collect.images import ImageOffer, to_int
from digest.collect.overview import MAX_PLAIN_OVERVIEW, choose_overview, clean_summary, shorten
from digest.collect.sanitize import clean_text, html_to_paragraphs, read_html
from digest.errors import ReviewError
from digest.models import Grade, Image, Review

__all__ = [
    "MAX_PLAIN_OVERVIEW", "ImageOffer", "build_review", "check_date", "person_name", "to_int"
]  # fmt: skip

#: A date further ahead than this is a mistake in the feed, not a scheduled post.
FUTURE_SLACK = timedelta(days=1)
MAX_NAME = 200


def person_name(text: str) -> str:
    """A person's name from ``Name``, ``email (Name)`` or ``Name <email>``; an address alone
    gives ``""`` (a byline never shows an address)."""
    text = clean_text(text)
    if "@" not in text:
        return text
    name, _address = parseaddr(text)
    name = clean_text(name)
    return "" if not name or "@" in name else name


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
    guid: str | None = None,
    summary: str = "",
    tags: tuple[str, ...] = (),
    element_grade: Grade | None = None,
) -> tuple[Review, list[str]]:
    """A ``Review`` and the warnings about single fields; ``ReviewError`` when it has no title.

    ``summary`` is the HTML of the entry's own summary (excerpt, description), ``element_grade``
    a grade the source read from a namespaced element such as ``letterboxd:memberRating``.
    """
    what = f"entry {shorten(title or key, 80)!r}"
    title, title_grade = grades.split_title(title)
    paragraphs, content_images = read_html(html, base_url=link)
    paragraphs, paragraph_grade = grades.take_grade_paragraphs(paragraphs)
    found = fields.parse_review_text("\n\n".join(paragraphs))
    warnings = [f"{what}: {w}" for w in found.warnings]
    use_summary = summary and not found.overview  # read only when it can be the overview
    own_summary = clean_summary(html_to_paragraphs(summary), paragraphs) if use_summary else ""
    overview = choose_overview(found.overview, own_summary, paragraphs)
    defined = any(fields.BODY_LABELS.get(label.casefold()) for label in found.labels)
    grade = (
        found.grade or element_grade or grades.json_ld_grade(html) or paragraph_grade or title_grade
    )
    image, image_warnings = _image(
        offers + images.content_offers(content_images, link), what, title, found.credit
    )
    review = Review(
        title=title,
        published=published,
        source=source,
        key=key,
        link=link,
        author=shorten(person_name(author), MAX_NAME),
        overview=overview,
        facts=found.facts,
        sections=found.sections if defined else (),
        verdict=found.verdict,
        grade=grade,
        image=image,
        guid=guid,
        tags=tags,
    )
    return review, warnings + image_warnings


def _image(
    offers: list[ImageOffer], what: str, title: str, credit: str
) -> tuple[Image | None, list[str]]:
    warnings: list[str] = []
    for offer in images.choose(offers):
        try:
            image = Image(
                url=offer.url.strip(),
                alt=clean_text(offer.alt) or title,
                credit=credit or offer.credit,
                width=offer.width,
                height=offer.height,
            )
        except ReviewError:
            warnings.append(f"{what}: image {offer.url[:80]!r} is not an http(s) URL; skipped")
            continue
        return image, warnings
    return None, warnings
