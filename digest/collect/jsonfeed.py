"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1), read with ``json`` and checked by hand.

Every value is type-checked before use: a wrong type in one item is that item's problem, a
document that is not a JSON Feed at all is the source's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from digest.collect.dates import DateReader
from digest.collect.entry import ImageOffer, build_review, check_date, to_int
from digest.collect.sanitize import clean_text, html_to_line
from digest.config import slugify
from digest.errors import ReviewError, SourceError
from digest.models import Problem, Review

_JSON_TYPES = ("application/feed+json", "application/json")


def is_json_feed(body: bytes, content_type: str) -> bool:
    """JSON by its content type, or by an opening brace when the type says nothing useful."""
    if content_type in _JSON_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def read_json_feed(
    body: bytes, label: str, where: str, dates: DateReader | None = None
) -> tuple[list[Any], list[Problem]]:
    """The feed's items (each with ``to_review``) and problems with single items."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise SourceError(label, f"the JSON feed is not UTF-8 ({e.reason}) — {where}") from e
    except json.JSONDecodeError as e:
        raise SourceError(label, f"not valid JSON ({e.msg} at line {e.lineno}) — {where}") from e
    except RecursionError as e:
        raise SourceError(label, f"the JSON is nested too deeply to be a feed — {where}") from e
    if not isinstance(document, dict):
        raise SourceError(label, f"the JSON is not a JSON Feed (no top-level object) — {where}")
    version = document.get("version")
    items = document.get("items")
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise SourceError(label, f"the JSON has no JSON Feed version field — {where}")
    if not isinstance(items, list):
        raise SourceError(label, f"the JSON Feed has no list of items — {where}")
    problems: list[Problem] = []
    found: list[Any] = []
    feed_author = _author_name(document)
    dates = dates or DateReader(UTC, "UTC")
    for number, item in enumerate(items, 1):
        if isinstance(item, dict):
            found.append(_JsonItem(item, feed_author, dates))
        else:
            problems.append(Problem(label, f"item {number} is not an object; skipped"))
    return found, problems


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _author_name(obj: dict[str, Any]) -> str:
    authors = obj.get("authors")
    if isinstance(authors, list):
        for a in authors:
            if isinstance(a, dict) and _str(a, "name"):
                return _str(a, "name")
    author = obj.get("author")  # JSON Feed 1.0
    return _str(author, "name") if isinstance(author, dict) else ""


class _JsonItem:
    def __init__(self, raw: dict[str, Any], feed_author: str, dates: DateReader) -> None:
        self.raw = raw
        self.feed_author = feed_author
        # JSON Feed asks for RFC 3339; feeds also write RFC 822, and some leave the zone out
        # (read in the source's timezone and reported, see ``digest.collect.dates``).
        self.dates = dates

    def to_review(self, source: str, now: datetime) -> tuple[Review, list[str]]:
        item = self.raw
        ident = item.get("id")
        link = _str(item, "url") or _str(item, "external_url") or None
        key = str(ident) if isinstance(ident, str | int) else (link or "")
        # JSON Feed titles are plain text, but feeds in the wild put entities and tags in them.
        title = html_to_line(_str(item, "title"))
        if not title:
            raise ReviewError(f"item {key[:80]!r} has no title; skipped")
        published = self.dates.read(_str(item, "date_published")) or self.dates.read(
            _str(item, "date_modified")
        )
        published = check_date(published, now, f"item {title[:80]!r}")
        html = _str(item, "content_html")
        summary = _as_html(_str(item, "summary"))
        if not html:
            html = _as_html(_str(item, "content_text")) or summary
        tags = item.get("tags")
        return build_review(
            source=source,
            key=key or title,
            title=title,
            link=link,
            published=published,
            author=clean_text(_author_name(item) or self.feed_author),
            html=html,
            offers=self._offers(),
            guid=str(ident) if isinstance(ident, str | int) and str(ident).strip() else None,
            summary=summary if summary != html else "",
            tags=tuple(
                slugify(t)
                for t in (tags if isinstance(tags, list) else [])[:50]
                if isinstance(t, str) and slugify(t)
            ),
        )

    def _offers(self) -> list[ImageOffer]:
        offers = [
            ImageOffer(_str(self.raw, key))
            for key in ("image", "banner_image")
            if _str(self.raw, key)
        ]
        attachments = self.raw.get("attachments")
        for a in attachments if isinstance(attachments, list) else []:
            if isinstance(a, dict) and _str(a, "mime_type").startswith("image/") and _str(a, "url"):
                offers.append(
                    ImageOffer(
                        _str(a, "url"),
                        alt=_str(a, "title"),
                        width=to_int(a.get("width")),
                        height=to_int(a.get("height")),
                    )
                )
        return offers


def _as_html(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n") if p.strip())
