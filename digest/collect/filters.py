"""A source's ``include:`` / ``exclude:`` filters, applied to what it collected.

``include`` keeps only reviews that match it, ``exclude`` drops those that match it; a
filter's parts combine with AND (in a category listed *and* with a tag listed *and* a title
the pattern finds). Categories and tags are compared as slugs (``Film Reviews`` →
``film-reviews``). A feed does not tell categories from tags (RSS ``<category>``, Atom
``term``, JSON Feed ``tags`` are one list), so for a feed both match that list. WordPress
filters categories and tags itself through the REST API (``digest.collect.wpterms``); here
only its title pattern is applied. Every review a filter leaves out is listed as ``Skipped``
with the key of the filter that did it.
"""

from __future__ import annotations

from digest.collect.base import SourceResult
from digest.config import SourceConfig, SourceFilter
from digest.models import Review, Skipped


def _matches(rules: SourceFilter, review: Review, *, terms: bool) -> tuple[bool, str]:
    """Whether ``review`` matches every part of ``rules``; and the part that decided."""
    tags = set(review.tags)
    parts: list[tuple[str, bool]] = []
    if terms:
        for name, wanted in (("categories", rules.categories), ("tags", rules.tags)):
            if wanted:
                parts.append((f"{name} ({', '.join(wanted)})", bool(tags & set(wanted))))
    pattern = rules.title_pattern
    if pattern is not None:
        parts.append((f"title ({rules.title})", bool(pattern.search(review.title))))
    if not parts:
        return False, ""
    failed = next((name for name, ok in parts if not ok), None)
    return failed is None, failed or parts[0][0]


def why_left_out(entry: SourceConfig, key: str, review: Review, *, terms: bool) -> str | None:
    """The reason a filter of ``entry`` (at ``sources[N]``) leaves ``review`` out, if any."""
    include, exclude = entry.include, entry.exclude
    if include is not None and not include.empty:
        ok, part = _matches(include, review, terms=terms)
        if part and not ok:
            return f"left out by {key}.include.{part}"
    if exclude is not None and not exclude.empty:
        hit, part = _matches(exclude, review, terms=terms)
        if hit:
            return f"left out by {key}.exclude.{part}"
    return None


def apply_filters(entry: SourceConfig, key: str, result: SourceResult) -> SourceResult:
    """``result`` with the reviews its source's filters leave out moved to ``skipped``."""
    if entry.include is None and entry.exclude is None:
        return result
    terms = entry.type != "wordpress"  # WordPress filtered its terms on the server
    kept: list[Review] = []
    skipped = list(result.skipped)
    for review in result.reviews:
        why = why_left_out(entry, key, review, terms=terms)
        if why is None:
            kept.append(review)
        else:
            skipped.append(Skipped(review.title, review.source, why, "filtered"))
    return SourceResult(
        reviews=tuple(kept),
        problems=result.problems,
        skipped=tuple(skipped),
        older=result.older,
        older_latest=result.older_latest,
    )
