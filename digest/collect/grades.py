"""Where real review sites put a grade, and how to take it off what the card shows.

A ``Rating:`` paragraph is read by ``digest.collect.fields``. Sites also write the grade:

- in a paragraph of its own (``★★½``, ``3.5 stars``, ``4/5``) — ``take_grade_paragraphs``
  removes it from the text, so it never becomes the overview;
- in the title, as a suffix or a prefix (``Night Bus ★★★★½``, ``Night Bus review – 4/5``,
  ``[3.5/5] Night Bus``) — ``split_title`` returns the title without it;
- in a namespaced feed element: ``letterboxd:memberRating`` (0.5–5) and the RDF Review
  vocabulary's ``rev:rating`` (with ``rev:maxRating``, default 5) — ``element_grade``;
- as schema.org ``Review`` / ``reviewRating`` JSON-LD in the content — ``json_ld_grade``
  (read from the raw HTML before sanitising, which drops every ``<script>``).

Whatever form, ``Grade.parse`` (``digest.models.GRADE_FORMS``) maps it onto A+ … F.
A bare run of ASCII asterisks (``***``) is a section break, not a grade, unless a scale or a
half follows it (``***1/2``, ``*** out of 4``); inside a ``Rating:`` paragraph it is a grade.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from digest.models import Grade

#: Feed namespaces that carry a reviewer's own rating: (namespace, element, default scale).
RATING_ELEMENTS: tuple[tuple[str, str, float], ...] = (
    ("https://letterboxd.com", "memberrating", 5.0),
    ("http://purl.org/stuff/rev#", "rating", 5.0),
)
_SCALE_ELEMENTS = {"http://purl.org/stuff/rev#": "maxrating"}

_STARS = r"[★⭐☆✩½]+(?:\s*(?:/|out\s+of)\s*\d+)?|\*+(?:\s*1/2|½)?"
_SCORE = (
    r"\d+(?:[.,]\d+)?\s*(?:/|out\s+of)\s*(?:4|5|10|20|100)(?:\s*stars?)?|\d+(?:[.,]5)?\s*stars?"
)
_BRACKETED = rf"[(\[](?:{_STARS}|{_SCORE})[)\]]"
#: A grade closing a title: stars after a space, a score only after a separator or in brackets
#: ("… ★★★★", "… – 4/5", "… (3.5 stars)"), so "Part 2/5" or "Catch-22" keep their numbers.
_TITLE_SUFFIX = re.compile(
    rf"^(?P<title>.+?)(?:\s*[-–—|:,]\s*(?P<g1>{_STARS}|{_SCORE}|{_BRACKETED})"
    rf"|\s+(?P<g2>[★⭐☆✩½][★⭐☆✩½]*|{_BRACKETED}))\s*$",
    re.I,
)
_TITLE_PREFIX = re.compile(
    rf"^(?P<g1>[★⭐☆✩½]+|{_BRACKETED})\s*(?:[-–—|:]\s*)?(?P<title>.+)$", re.I
)
_JSON_LD = re.compile(
    r"<script\b[^>]*type\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(?P<body>.*?)</script\s*>",
    re.I | re.S,
)
_MAX_JSON_LD = 100_000
_GRADE_MARK = re.compile(r"[\d★⭐☆✩½*]")
_GRADE_EDGE = re.compile(r"[\d★⭐☆✩½*()\[\]sS]")


def _is_grade_text(text: str, *, labelled: bool = False) -> Grade | None:
    grade = Grade.parse(text)
    if grade is None:
        return None
    bare = text.replace(" ", "")
    if not labelled and set(bare) <= {"*"}:
        return None  # "***": a section break
    return grade


def paragraph_grade(paragraph: str) -> Grade | None:
    """The grade when a paragraph is nothing but one (stars, a score; never a bare letter)."""
    text = paragraph.strip()
    if len(text) > 40 or not _GRADE_MARK.search(text):
        return None  # no digit and no star: a bare letter needs a Rating: label
    return _is_grade_text(text)


def take_grade_paragraphs(paragraphs: list[str]) -> tuple[list[str], Grade | None]:
    """The paragraphs without those that are only a grade, and the first such grade."""
    kept: list[str] = []
    found: Grade | None = None
    for paragraph in paragraphs:
        grade = paragraph_grade(paragraph)
        if grade is None:
            kept.append(paragraph)
        elif found is None:
            found = grade
    return kept, found


def split_title(title: str) -> tuple[str, Grade | None]:
    """The title without a grade it ends or starts with, and that grade."""
    if not title or not (_GRADE_EDGE.match(title[0]) or _GRADE_EDGE.match(title[-1])):
        return title, None  # a grade would start or end it with a star, digit or bracket
    for pattern in (_TITLE_SUFFIX, _TITLE_PREFIX):
        m = pattern.match(title)
        if m is None:
            continue
        rest = m.group("title").strip(" -–—|:,")
        raw = (m.group("g1") or m.groupdict().get("g2") or "").strip("()[]")
        grade = _is_grade_text(raw) if rest else None
        if grade is not None:
            return rest, grade
    return title, None


def strip_edges(text: str) -> str:
    """Text without a star run or score opening or closing it (an overview, a summary)."""
    stripped, grade = split_title(text)
    return stripped if grade is not None else text


RatingKeys = tuple[tuple[str, str, float], ...]


def rating_keys(namespaces: Mapping[str, str]) -> RatingKeys:
    """Where a parsed entry holds a rating: ``(value key, scale key, default scale)``.

    feedparser names an element of an unknown namespace ``{prefix}_{localname}``, with the
    prefix the document chose; ``namespaces`` (prefix → URI) tells which one that is.
    """
    prefixes = {uri.rstrip("/"): prefix for prefix, uri in namespaces.items() if prefix}
    return tuple(
        (f"{prefix}_{element}", f"{prefix}_{_SCALE_ELEMENTS.get(uri, '')}", default)
        for uri, element, default in RATING_ELEMENTS
        if (prefix := prefixes.get(uri.rstrip("/")))
    )


def element_grade(entry: Mapping[str, Any], keys: RatingKeys) -> Grade | None:
    """A rating from a namespaced element (``keys`` from ``rating_keys``)."""
    for value_key, scale_key, default_scale in keys:
        value = entry.get(value_key)
        if not isinstance(value, str) or not value.strip():
            continue
        scale = entry.get(scale_key)
        scale_text = scale.strip() if isinstance(scale, str) and scale.strip() else None
        grade = Grade.parse(f"{value.strip()}/{scale_text or f'{default_scale:g}'}")
        if grade is not None:
            return grade
    return None


def json_ld_grade(html: str) -> Grade | None:
    """The ``reviewRating`` of a schema.org ``Review`` in the content's JSON-LD, if any."""
    if "ld+json" not in html:
        return None
    for m in _JSON_LD.finditer(html[:2_000_000]):
        body = m.group("body")
        if len(body) > _MAX_JSON_LD:
            continue
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, RecursionError):
            continue
        grade = _review_rating(data, depth=0)
        if grade is not None:
            return grade
    return None


def _review_rating(node: object, depth: int) -> Grade | None:
    if depth > 6:
        return None
    if isinstance(node, list):
        for item in node[:50]:
            found = _review_rating(item, depth + 1)
            if found is not None:
                return found
        return None
    if not isinstance(node, dict):
        return None
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    rating = node.get("reviewRating")
    if "Review" in kinds and isinstance(rating, dict):
        value, best = rating.get("ratingValue"), rating.get("bestRating", 5)
        if isinstance(value, int | float | str) and isinstance(best, int | float | str):
            grade = Grade.parse(f"{value}/{best}")
            if grade is not None:
                return grade
    return _review_rating(node.get("@graph"), depth + 1) if "@graph" in node else None
