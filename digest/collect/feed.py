"""The ``feed`` source: RSS 2.0, Atom and JSON Feed, fetched safely and parsed from bytes.

The body is fetched with ``digest.sources.http`` (limits, address checks, conditional GET) and
then recognised by its first element or brace: a JSON Feed is read here with ``json``; XML is
decoded to UTF-8 the way feedparser decodes it, then checked by ``digest.collect.xmlguard``,
which refuses entity declarations (billion laughs) and external entities in every encoding
before feedparser ever sees the bytes, and an HTML page served in place of a feed is
named as such. feedparser is only ever handed bytes through a file object — never a URL or a
string it might take for a local path — and, past 256 KB, in a child process killed at the
deadline (``digest.collect.parse``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digest import config as cfg
from digest.collect.base import Deadline, NetworkSource, SourceResult
from digest.collect.dates import DateReader, unambiguous
from digest.collect.entry import ImageOffer, build_review, check_date, to_int
from digest.collect.feedparts import FeedContext, entry_tags, first_person
from digest.collect.http import FetchResult, fetch_with
from digest.collect.jsonfeed import is_json_feed, read_json_feed
from digest.collect.parse import parse_feed
from digest.collect.sanitize import clean_text, html_to_line
from digest.collect.xmlguard import refuse_entities, root_element, to_utf8
from digest.errors import ReviewError, SourceError
from digest.models import Problem, Review

#: Entries beyond this many in one feed are not read (and a problem says so).
MAX_ENTRIES = 500
_ACCEPT = (
    "application/feed+json, application/rss+xml, application/atom+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
#: feedparser "errors" that only mean it had to guess the charset; the text still reads fine.
_CHARSET_NOTES = ("CharacterEncodingOverride", "CharacterEncodingUnknown", "NonXMLContentType")


class FeedSource(NetworkSource[cfg.FeedSettings]):
    """Reads one RSS, Atom or JSON feed."""

    def collect(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None
    ) -> SourceResult:
        # A feed holds what it holds: the period is applied by selection, not by the fetch.
        deadline = Deadline(self.settings.http.total_timeout, self.label)
        self.dates = DateReader(
            ZoneInfo(self.settings.source_timezone(self.entry)),
            self.settings.source_timezone(self.entry),
            key=f"{self.settings.source_key(self.entry)}.timezone",
        )
        fetched = fetch_with(
            self.client,
            self.entry.url,
            self.settings.http,
            allow_private=self.entry.allow_private,
            cache=self.conn,
            accept=_ACCEPT,
        )
        if is_json_feed(fetched.body, fetched.content_type):
            items, problems = read_json_feed(fetched.body, self.label, self._where(), self.dates)
        else:
            items, problems = self._read_xml(fetched, deadline)
        reviews: list[Review] = []
        for item in items[:MAX_ENTRIES]:
            deadline.check()
            try:
                review, warnings = item.to_review(self.label, now)
            except ReviewError as e:
                problems.append(Problem(self.label, str(e)))
                continue
            reviews.append(review)
            problems.extend(Problem(self.label, w) for w in warnings)
        if len(items) > MAX_ENTRIES:
            problems.append(
                Problem(
                    self.label, f"the feed has {len(items)} entries; read the first {MAX_ENTRIES}"
                )
            )
        zoneless = self.dates.problem(self.label)
        problems.extend([zoneless] if zoneless else [])
        return SourceResult(reviews=tuple(reviews), problems=tuple(problems))

    def _where(self) -> str:
        try:
            index = self.settings.sources.index(self.entry)
        except ValueError:
            return "check the url of this source"
        return f"check sources[{index}].url in {self.settings.path.name}"

    def _read_xml(
        self, fetched: FetchResult, deadline: Deadline
    ) -> tuple[list[Any], list[Problem]]:
        body = fetched.body
        where = self._where()
        if not body.strip():
            raise SourceError(self.label, f"the URL returned an empty answer, not a feed — {where}")
        data = to_utf8(body, fetched.headers.get("content-type", ""))
        root = root_element(data)
        if root == "html" or (root is None and fetched.content_type == "text/html"):
            raise SourceError(self.label, f"the URL returned an HTML page, not a feed — {where}")
        refuse_entities(data, self.label)
        # The very bytes the checks read, already UTF-8; a big document in a child process.
        parsed = parse_feed(data, fetched.url, deadline)
        problems: list[Problem] = []
        error = parsed.error or parsed.error_type
        if parsed.bozo and parsed.error_type not in _CHARSET_NOTES:
            if not parsed.entries:
                raise SourceError(self.label, f"not a readable feed ({_describe(error)}) — {where}")
            problems.append(
                Problem(
                    self.label,
                    f"the feed is not well-formed XML ({_describe(error)}); "
                    f"{len(parsed.entries)} entries were read anyway",
                )
            )
        elif not parsed.version and not parsed.entries and root not in ("rss", "feed", "rdf:rdf"):
            raise SourceError(self.label, f"not an RSS, Atom or JSON feed — {where}")
        context = FeedContext.of(parsed, self.dates)
        return [_XmlEntry(e, context) for e in parsed.entries], problems


def _describe(error: object) -> str:
    text = clean_text(str(error or "unknown error"))
    return text[:200] or type(error).__name__


def _struct_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _text_of(detail: Any, fallback: Any) -> str:
    """Text of a feedparser text construct, always read as HTML.

    Feeds mark titles as plain text and still put tags and entities in them, so tags are
    sanitised away and entities decoded whatever the declared type says.
    """
    value = detail.get("value") if isinstance(detail, dict) else None
    if not isinstance(value, str):
        value = fallback if isinstance(fallback, str) else ""
    return html_to_line(value)


class _XmlEntry:
    """One RSS item or Atom entry as feedparser read it."""

    def __init__(self, raw: Any, context: FeedContext) -> None:
        self.raw = raw
        self.context = context

    def to_review(self, source: str, now: datetime) -> tuple[Review, list[str]]:
        e = self.raw
        title = _text_of(e.get("title_detail"), e.get("title"))
        link = e.get("link") if isinstance(e.get("link"), str) else None
        ident = dict.get(e, "id")
        guid = ident if isinstance(ident, str) and ident.strip() else None
        key = str(guid or link or title)
        if not title:
            raise ReviewError(f"entry {key[:80]!r} has no title; skipped")
        published = check_date(self._published(), now, f"entry {title[:80]!r}")
        html = self._content()
        summary = self.raw.get("summary")
        return build_review(
            source=source,
            key=key,
            title=title,
            link=link,
            published=published,
            author=first_person(e, self.context),
            html=html,
            offers=self._offers(title),
            guid=guid,
            summary=summary if isinstance(summary, str) and summary != html else "",
            tags=entry_tags(e),
            element_grade=self.context.element_grade(e),
        )

    def _published(self) -> datetime | None:
        """The entry's date read as its format defines it (``dates.DateReader``), falling
        back to feedparser's reading for forms only it knows."""
        e = self.raw
        for raw_key in ("published", "updated"):
            # Plain dict lookups: feedparser's own mapping between these keys warns on access.
            raw, parsed = dict.get(e, raw_key), _struct_time(dict.get(e, f"{raw_key}_parsed"))
            if parsed is not None and unambiguous(raw):
                return parsed  # an explicit zone, a 24-hour clock: feedparser read it right
            when = self.context.dates.read(raw) or parsed
            if when is not None:
                return when
        return None

    def _content(self) -> str:
        """content:encoded / Atom content when present (the longest), else the summary."""
        best = ""
        for part in self.raw.get("content") or []:
            value = part.get("value") if isinstance(part, dict) else None
            if isinstance(value, str) and len(value) > len(best):
                best = value if "html" in str(part.get("type", "html")) else _as_html(value)
        if best:
            return best
        detail = self.raw.get("summary_detail")
        summary = self.raw.get("summary")
        if isinstance(detail, dict) and "html" not in str(detail.get("type", "html")):
            return _as_html(str(summary or ""))
        return summary if isinstance(summary, str) else ""

    def _offers(self, title: str) -> list[ImageOffer]:
        e = self.raw
        credit = ""
        for c in e.get("media_credit") or []:
            if isinstance(c, dict) and isinstance(c.get("content"), str):
                credit = c["content"]
                break
        offers: list[ImageOffer] = []
        for m in e.get("media_content") or []:
            kind = str(m.get("type") or "")
            medium = str(m.get("medium") or "")
            if medium == "image" or kind.startswith("image/") or (not kind and not medium):
                offers.append(_offer(m.get("url"), m, credit))
        for enc in e.get("enclosures") or []:
            if str(enc.get("type") or "").startswith("image/"):
                offers.append(_offer(enc.get("href") or enc.get("url"), {}, credit))
        for t in e.get("media_thumbnail") or []:
            offers.append(_offer(t.get("url"), t, credit))
        return [o for o in offers if o.url]


def _offer(url: Any, attrs: Any, credit: str) -> ImageOffer:
    return ImageOffer(
        url=url if isinstance(url, str) else "",
        width=to_int(attrs.get("width")),
        height=to_int(attrs.get("height")),
        credit=clean_text(credit),
    )


def _as_html(text: str) -> str:
    """Plain text as HTML paragraphs, so it goes through the same reader."""
    from html import escape

    return "".join(f"<p>{escape(p)}</p>" for p in re.split(r"\n\s*\n", text))
