"""What an RSS or Atom entry inherits from its feed, and the parts feedparser leaves raw.

- **Authors**, as Atom defines them (RFC 4287 §4.2.1): an entry's own ``author``, else the
  author of its ``atom:source``, else the feed's. RSS has no such inheritance (a channel's
  ``managingEditor`` is its editor, not every item's author), so an RSS item keeps its own
  ``author`` / ``dc:creator`` only. ``email (Name)`` and ``Name <email>`` give the name; an
  address alone gives nothing, so no address is ever printed as a byline.
- **Categories**: RSS ``<category>`` and Atom ``<category term= label=>``, as slugs.
- **Ratings** from namespaced elements (``grades.element_grade``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest.collect.dates import DateReader
from digest.collect.entry import person_name
from digest.collect.grades import RatingKeys, element_grade, rating_keys
from digest.collect.parse import Parsed
from digest.config import slugify
from digest.models import Grade


def _get(mapping: Any, key: str) -> Any:
    """``mapping[key]`` or ``None``; a plain dict lookup on feedparser's dicts, whose own
    ``get`` maps between legacy keys (slower, and it warns on some)."""
    if isinstance(mapping, dict):
        return dict.get(mapping, key)
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _name_of(detail: Any, fallback: Any = None) -> str:
    name = _get(detail, "name")
    found = person_name(name) if isinstance(name, str) else ""
    return found or (person_name(fallback) if isinstance(fallback, str) else "")


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What every entry of one parsed feed may need from the feed itself."""

    dates: DateReader
    atom: bool = False
    author: str = ""
    ratings: RatingKeys = ()

    @classmethod
    def of(cls, parsed: Parsed, dates: DateReader) -> FeedContext:
        feed = parsed.feed
        namespaces = parsed.namespaces
        return cls(
            dates=dates,
            atom=parsed.version.startswith("atom"),
            author=_name_of(feed.get("author_detail"), feed.get("author")),
            ratings=rating_keys(namespaces) if isinstance(namespaces, Mapping) else (),
        )

    def element_grade(self, entry: Mapping[str, Any]) -> Grade | None:
        return element_grade(entry, self.ratings) if self.ratings else None


def first_person(entry: Mapping[str, Any], context: FeedContext) -> str:
    """The entry's author, inherited from its ``atom:source`` and then its feed in Atom."""
    own = _name_of(_get(entry, "author_detail"), _get(entry, "author"))
    if own or not context.atom:
        return own
    source = _get(entry, "source")
    if isinstance(source, Mapping):
        inherited = _name_of(_get(source, "author_detail"), _get(source, "author"))
        if inherited:
            return inherited
    return context.author


def entry_tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The entry's categories (RSS ``<category>``, Atom ``term``/``label``), as slugs."""
    found: list[str] = []
    for tag in _get(entry, "tags") or []:
        if not isinstance(tag, Mapping):
            continue
        for value in (_get(tag, "term"), _get(tag, "label")):
            if isinstance(value, str) and slugify(value) and slugify(value) not in found:
                found.append(slugify(value))
    return tuple(found[:50])
