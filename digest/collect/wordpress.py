"""The ``wordpress`` source: recent posts from the WordPress REST API.

``GET {url}/wp-json/wp/v2/posts?after=…&_embed=1&per_page=50&page=N`` — ``after`` is the start of
the selection window (``selection.days`` before now) less a margin, so a site whose clock or
timezone differs still returns every post selection could want. ``_embed`` brings the author
and the featured media (URL, alt text, size) in the same answer. Pages are followed as far as
``X-WP-TotalPages`` says, up to ``MAX_PAGES``.

Every value in the answer is type-checked; a page that is not JSON (a login wall, an HTML
error page, a site without the REST API) is a clear error naming the url to check.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from digest import config as cfg
from digest.collect.base import SourceResult
from digest.collect.entry import ImageOffer, build_review, check_date, to_int
from digest.collect.http import fetch_with
from digest.collect.sanitize import clean_text, html_to_line
from digest.errors import ReviewError, SourceError
from digest.models import Problem, Review

PER_PAGE = 50
MAX_PAGES = 20
#: Asked for beyond the selection window, for sites whose ``after`` uses their local time.
WINDOW_MARGIN = timedelta(days=2)
_API_PATH = "/wp-json/wp/v2/posts"


def posts_url(site: str) -> str:
    """The posts endpoint for a site URL (the site itself, or its ``/wp-json`` root)."""
    base = site.rstrip("/")
    if base.endswith(_API_PATH):
        return base
    if base.endswith("/wp-json"):
        return base + "/wp/v2/posts"
    return base + _API_PATH


class WordPressSource:
    """Reads the recent posts of one WordPress site."""

    def __init__(
        self,
        entry: cfg.WordPressSettings,
        *,
        settings: cfg.Config,
        client: httpx.Client,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        self.entry = entry
        self.settings = settings
        self.client = client
        # No conditional GET here: ``after`` changes every run, so nothing would ever match.
        self.conn = conn
        self.label = entry.label

    def collect(self, *, now: datetime) -> SourceResult:
        after = now.astimezone(UTC) - timedelta(days=self.settings.selection.days) - WINDOW_MARGIN
        reviews: list[Review] = []
        problems: list[Problem] = []
        page = 1
        total = 1
        while page <= min(total, MAX_PAGES):
            posts, total = self._page(after, page)
            for number, post in enumerate(posts, 1):
                try:
                    if not isinstance(post, dict):
                        raise ReviewError(f"page {page}, post {number} is not an object; skipped")
                    review, warnings = _review(post, self.label, now)
                except ReviewError as e:
                    problems.append(Problem(self.label, str(e)))
                    continue
                reviews.append(review)
                problems.extend(Problem(self.label, w) for w in warnings)
            page += 1
        if total > MAX_PAGES:
            problems.append(
                Problem(
                    self.label,
                    f"{total} pages of posts; only the first {MAX_PAGES} "
                    f"({MAX_PAGES * PER_PAGE} posts) were read",
                )
            )
        return SourceResult(reviews=tuple(reviews), problems=tuple(problems))

    def _page(self, after: datetime, page: int) -> tuple[list[Any], int]:
        url = httpx.URL(
            posts_url(self.entry.url),
            params={
                "after": after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "_embed": "1",
                "per_page": str(PER_PAGE),
                "page": str(page),
                "orderby": "date",
                "order": "desc",
            },
        )
        fetched = fetch_with(
            self.client,
            str(url),
            self.settings.http,
            allow_private=self.entry.allow_private,
            cache=None,
            accept="application/json",
        )
        hint = f"not a WordPress REST API — check the url of this source ({self.entry.url})"
        try:
            data = json.loads(fetched.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise SourceError(self.label, f"{hint}: page {page} is not JSON") from e
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            message = clean_text(str(data.get("message", "")))[:200]
            raise SourceError(self.label, f"WordPress answered {data['code']}: {message}")
        if not isinstance(data, list):
            raise SourceError(self.label, f"{hint}: page {page} is not a list of posts")
        pages = fetched.headers.get("x-wp-totalpages", "1").strip()
        return data, int(pages) if pages.isdigit() else 1


def _rendered(post: dict[str, Any], key: str) -> str:
    value = post.get(key)
    rendered = value.get("rendered") if isinstance(value, dict) else None
    return rendered if isinstance(rendered, str) else ""


def _first_embedded(post: dict[str, Any], key: str) -> dict[str, Any]:
    embedded = post.get("_embedded")
    found = embedded.get(key) if isinstance(embedded, dict) else None
    first = found[0] if isinstance(found, list) and found else None
    # An embed the site refuses (``{"code": "rest_forbidden", …}``) counts as missing.
    return first if isinstance(first, dict) and "code" not in first else {}


def _date_gmt(post: dict[str, Any]) -> datetime | None:
    value = post.get("date_gmt")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _review(post: dict[str, Any], source: str, now: datetime) -> tuple[Review, list[str]]:
    ident = post.get("id")
    link = post.get("link") if isinstance(post.get("link"), str) else None
    key = str(ident) if isinstance(ident, int | str) else (link or "")
    title = html_to_line(_rendered(post, "title"))
    if not title:
        raise ReviewError(f"post {key[:80]!r} has no title; skipped")
    published = check_date(_date_gmt(post), now, f"post {title[:80]!r}")
    author = _first_embedded(post, "author").get("name")
    media = _first_embedded(post, "wp:featuredmedia")
    offers: list[ImageOffer] = []
    source_url = media.get("source_url")
    if isinstance(source_url, str) and source_url:
        details = media.get("media_details")
        details = details if isinstance(details, dict) else {}
        alt = media.get("alt_text")
        offers.append(
            ImageOffer(
                source_url,
                alt=alt if isinstance(alt, str) else "",
                width=to_int(details.get("width")),
                height=to_int(details.get("height")),
            )
        )
    return build_review(
        source=source,
        key=key or title,
        title=title,
        link=link,
        published=published,
        author=author if isinstance(author, str) else "",
        html=_rendered(post, "content") or _rendered(post, "excerpt"),
        offers=offers,
    )
