"""The ``wordpress`` source: the posts of the period asked for, from the WordPress REST API.

``GET {url}/wp-json/wp/v2/posts?after=…&before=…&_embed=1&per_page=50&page=N`` — ``after`` is
the start of the window asked for (``--since``, the reach back to the previous issue, else
``selection.days`` before now) and ``before`` its end (``--until``), each widened by a margin,
so a site whose clock or timezone differs still returns every post selection could want.
``_embed`` brings the author, the featured media (URL, alt text, every size in
``media_details.sizes``) and the post's categories and tags in the same answer. Pages are
followed as far as ``X-WP-TotalPages`` says, up to ``MAX_PAGES``.

One more small request (``before=<after>&per_page=1``) counts the posts older than the window,
so ``digest check`` can say "0 in the period, 37 before it" instead of a bare "ok, 0".
``include`` / ``exclude`` by category or tag go to the API as ``categories``, ``tags``,
``categories_exclude`` and ``tags_exclude`` (slugs resolved to ids once per run, see
``digest.collect.wpterms``), and what they kept out of the window is listed with its reason.

Every value in the answer is type-checked; a page that is not JSON (a login wall, an HTML
error page, a site without the REST API) is a clear error naming the url to check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from digest import config as cfg
from digest.collect import wpterms
from digest.collect.base import NetworkSource, SourceResult
from digest.collect.entry import ImageOffer, build_review, check_date, to_int
from digest.collect.http import fetch_with
from digest.collect.sanitize import clean_text, html_to_line
from digest.errors import DigestError, ReviewError, SourceError
from digest.models import Problem, Review
from digest.period import window_start

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


class WordPressSource(NetworkSource[cfg.WordPressSettings]):
    """Reads the recent posts of one WordPress site (no conditional GET: ``after`` changes
    every run, so nothing would ever match)."""

    def collect(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None
    ) -> SourceResult:
        self.now = now
        start = since or window_start(self.settings, now.astimezone(self.settings.newsletter.tz))
        window = {"after": _stamp(start - WINDOW_MARGIN)}
        if until is not None:
            window["before"] = _stamp(until + WINDOW_MARGIN)
        terms = wpterms.TermFilter.resolve(self, posts_url(self.entry.url))
        reviews, problems = self._posts({**window, **terms.params})
        # The count and the list of what the filters left out are extras: failing, they cost
        # a problem line, never the posts already read.
        older, older_latest, skipped = 0, None, []
        try:
            older, older_latest = self._older(window["after"], terms.params)
            skipped = terms.left_out(self, window, {r.key for r in reviews})
        except DigestError as e:
            problems.append(Problem(self.label, f"posts outside the window not counted: {e}"))
        return SourceResult(
            reviews=tuple(reviews),
            problems=tuple([*terms.problems, *problems]),
            skipped=tuple(skipped),
            older=older,
            older_latest=older_latest,
        )

    def _posts(self, params: dict[str, str]) -> tuple[list[Review], list[Problem]]:
        reviews: list[Review] = []
        problems: list[Problem] = []
        page = 1
        total = 1
        while page <= min(total, MAX_PAGES):
            posts, total, _ = self.get_json(
                {**params, "_embed": "1", "per_page": str(PER_PAGE), "page": str(page),
                 "orderby": "date", "order": "desc"},
                what=f"page {page}",
            )  # fmt: skip
            for number, post in enumerate(posts, 1):
                try:
                    if not isinstance(post, dict):
                        raise ReviewError(f"page {page}, post {number} is not an object; skipped")
                    review, warnings = _review(post, self.label, self.now)
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
        return reviews, problems

    def _older(self, after: str, filters: dict[str, str]) -> tuple[int, datetime | None]:
        """How many posts are older than the window, and the date of the latest of them."""
        posts, _, total = self.get_json(
            {**filters, "before": after, "per_page": "1", "_fields": "id,date_gmt"},
            what="the count of older posts",
        )
        latest = _date_gmt(posts[0]) if posts and isinstance(posts[0], dict) else None
        return total, latest

    def get_json(
        self, params: dict[str, str], *, what: str, url: str | None = None
    ) -> tuple[list[Any], int, int]:
        """One JSON list from the API: ``(items, X-WP-TotalPages, X-WP-Total)``."""
        fetched = fetch_with(
            self.client,
            str(httpx.URL(url or posts_url(self.entry.url), params=params)),
            self.settings.http,
            allow_private=self.entry.allow_private,
            cache=None,
            accept="application/json",
        )
        hint = f"not a WordPress REST API — check the url of this source ({self.entry.url})"
        try:
            data = json.loads(fetched.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise SourceError(self.label, f"{hint}: {what} is not JSON") from e
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            message = clean_text(str(data.get("message", "")))[:200]
            raise SourceError(self.label, f"WordPress answered {data['code']}: {message}")
        if not isinstance(data, list):
            raise SourceError(self.label, f"{hint}: {what} is not a list")
        pages = fetched.headers.get("x-wp-totalpages", "1").strip()
        count = fetched.headers.get("x-wp-total", "").strip()
        total = int(count) if count.isdigit() else len(data)
        return data, int(pages) if pages.isdigit() else 1, total


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    content = _rendered(post, "content")
    excerpt = _rendered(post, "excerpt")
    return build_review(
        source=source,
        key=key or title,
        title=title,
        link=link,
        published=published,
        author=author if isinstance(author, str) else "",
        html=content or excerpt,
        offers=_media_offers(_first_embedded(post, "wp:featuredmedia")),
        guid=str(ident) if isinstance(ident, int | str) and str(ident).strip() else None,
        summary=excerpt if content else "",
        tags=wpterms.post_slugs(post),
    )


def _media_offers(media: dict[str, Any]) -> list[ImageOffer]:
    """The featured image and every size WordPress made of it (``media_details.sizes``)."""
    source_url = media.get("source_url")
    if not isinstance(source_url, str) or not source_url:
        return []
    details = media.get("media_details")
    details = details if isinstance(details, dict) else {}
    alt = media.get("alt_text")
    alt = alt if isinstance(alt, str) else ""
    offers = [
        ImageOffer(
            source_url,
            alt,
            width=to_int(details.get("width")),
            height=to_int(details.get("height")),
        )
    ]
    sizes = details.get("sizes")
    for size in list(sizes.values() if isinstance(sizes, dict) else [])[:30]:
        url = size.get("source_url") if isinstance(size, dict) else None
        if isinstance(url, str) and url and url != source_url:
            offers.append(
                ImageOffer(
                    url, alt, width=to_int(size.get("width")), height=to_int(size.get("height"))
                )
            )
    return offers
