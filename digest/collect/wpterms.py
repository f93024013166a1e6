"""WordPress categories and tags: the source's ``include`` / ``exclude`` sent to the REST API.

Slugs in config.yaml are resolved to term ids once per run
(``GET /wp-json/wp/v2/categories?slug=a,b``, the same for ``tags``) and sent as the posts
query's ``categories``, ``tags``, ``categories_exclude`` and ``tags_exclude`` — the site does
the filtering, so only the posts wanted are fetched in full. WordPress combines ``categories``
and ``tags`` with AND, as digest does for feeds. An ``include`` slug the site does not have is a
mistake in the config (the source fails with the key to fix); an ``exclude`` slug it does not
have excludes nothing and is reported.

Then one light query of the same window without the filters (ids, titles, dates and term ids
only, at most ``LISTED`` posts) lists each post the filters kept out, with the reason, so
``digest sources`` accounts for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from digest import config as cfg
from digest.collect.sanitize import html_to_line
from digest.config import SourceFilter, slugify
from digest.errors import SourceError
from digest.models import Problem, Skipped


class WordPressSource(Protocol):
    """What the term filters need of the WordPress source (``collect.wordpress``)."""

    entry: cfg.WordPressSettings
    settings: cfg.Config
    label: str

    def get_json(
        self, params: dict[str, str], *, what: str, url: str | None = None
    ) -> tuple[list[Any], int, int]: ...


LISTED = 100
Taxonomy = Literal["categories", "tags"]
_PARAMS: dict[tuple[str, Taxonomy], str] = {
    ("include", "categories"): "categories",
    ("include", "tags"): "tags",
    ("exclude", "categories"): "categories_exclude",
    ("exclude", "tags"): "tags_exclude",
}


@dataclass
class TermFilter:
    """The resolved term filters of one source: query parameters and what each id means."""

    key: str
    params: dict[str, str] = field(default_factory=dict)
    #: (side, taxonomy) → {term id: slug}
    ids: dict[tuple[str, Taxonomy], dict[int, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def resolve(cls, source: WordPressSource, posts_url: str) -> TermFilter:
        settings = source.settings
        found = cls(key=settings.source_key(source.entry))
        root = posts_url.rsplit("/", 1)[0]
        for side, rules in (("include", source.entry.include), ("exclude", source.entry.exclude)):
            for taxonomy in ("categories", "tags"):
                slugs = _slugs(rules, taxonomy)
                if slugs:
                    found._resolve(source, root, side, taxonomy, slugs)
        return found

    def _resolve(
        self, source: WordPressSource, root: str, side: str, taxonomy: Taxonomy, slugs: list[str]
    ) -> None:
        terms, _, _ = source.get_json(
            {"slug": ",".join(slugs), "per_page": "100", "_fields": "id,slug"},
            what=f"the {taxonomy} list",
            url=f"{root}/{taxonomy}",
        )
        by_slug = {
            str(t.get("slug")): t["id"]
            for t in terms
            if isinstance(t, dict) and isinstance(t.get("id"), int)
        }
        missing = [s for s in slugs if s not in by_slug]
        where = f"{self.key}.{side}.{taxonomy} in {source.settings.path.name}"
        if missing and side == "include":
            raise SourceError(
                source.label,
                f"the site has no {taxonomy} {', '.join(missing)}; check {where} "
                "(slugs as in the site's URLs, e.g. film-reviews)",
            )
        if missing:
            text = f"the site has no {taxonomy} {', '.join(missing)}; check {where}"
            self.problems.append(Problem(source.label, text))
        ids = {by_slug[s]: s for s in slugs if s in by_slug}
        if ids:
            self.ids[(side, taxonomy)] = ids
            self.params[_PARAMS[(side, taxonomy)]] = ",".join(str(i) for i in ids)

    def reason(self, post: dict[str, Any]) -> str | None:
        """Why the term filters keep ``post`` out, or ``None`` when they let it in."""
        for (side, taxonomy), ids in self.ids.items():
            held = {i for i in _ints(post.get(taxonomy))}
            hit = held & set(ids)
            if (side == "include" and not hit) or (side == "exclude" and hit):
                slugs = (
                    ", ".join(ids.values())
                    if side == "include"
                    else ", ".join(ids[i] for i in sorted(hit))
                )
                return f"left out by {self.key}.{side}.{taxonomy} ({slugs})"
        return None

    def left_out(
        self, source: WordPressSource, window: dict[str, str], kept: set[str]
    ) -> list[Skipped]:
        """Each post of the window the term filters kept out, with the filter that did."""
        if not self.ids:
            return []
        posts, _, _ = source.get_json(
            {**window, "per_page": str(LISTED), "_fields": "id,title,date_gmt,categories,tags"},
            what="the list of posts the filters left out",
        )
        skipped: list[Skipped] = []
        for post in posts:
            if not isinstance(post, dict) or str(post.get("id")) in kept:
                continue
            why = self.reason(post)
            title = post.get("title")
            rendered = title.get("rendered") if isinstance(title, dict) else None
            if why and isinstance(rendered, str) and html_to_line(rendered):
                skipped.append(Skipped(html_to_line(rendered), source.label, why, "filtered"))
        return skipped


def _slugs(rules: SourceFilter | None, taxonomy: Taxonomy) -> list[str]:
    if rules is None:
        return []
    return list(rules.categories if taxonomy == "categories" else rules.tags)


def _ints(value: object) -> Iterable[int]:
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def post_slugs(post: dict[str, Any]) -> tuple[str, ...]:
    """The slugs of a post's categories and tags, from its embedded ``wp:term`` lists."""
    embedded = post.get("_embedded")
    groups = embedded.get("wp:term") if isinstance(embedded, dict) else None
    found: list[str] = []
    for group in groups if isinstance(groups, list) else []:
        for term in group if isinstance(group, list) else []:
            slug = term.get("slug") if isinstance(term, dict) else None
            if isinstance(slug, str) and slugify(slug) and slugify(slug) not in found:
                found.append(slugify(slug))
    return tuple(found[:50])
