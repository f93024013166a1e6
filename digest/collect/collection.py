"""Collect: run every configured source and gather what they found.

Each source runs on its own: a ``DigestError`` from one (a missing folder, a refused fetch) or
even an unexpected exception (a bug, a library surprise) becomes a ``Problem`` carrying that
source's label, and the other sources still run. Nothing here decides what goes in an issue;
that is ``digest.select``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from digest.collect.base import SourceResult
from digest.collect.filters import apply_filters
from digest.collect.registry import REGISTRY
from digest.config import Config, SourceConfig, usable
from digest.errors import ConfigError, DigestError, SourceError
from digest.models import Problem, Review, Skipped
from digest.period import window_start
from digest.state import db
from digest.state.db import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How one source fared: ``error`` is set when it failed as a whole.

    ``in_period`` counts its reviews inside the window collected for, ``outside`` those
    outside it plus what the source holds before it and did not fetch (``older``), and
    ``latest`` is the newest date it knows of, so a source whose posts are all older than the
    period never passes for "ok, 0".
    """

    label: str
    type: str
    reviews: int = 0
    problems: int = 0
    error: str = ""
    in_period: int = 0
    outside: int = 0
    latest: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class Collection:
    """Everything the sources returned, before selection."""

    reviews: tuple[Review, ...]
    problems: tuple[Problem, ...]
    skipped: tuple[Skipped, ...]
    sources: tuple[SourceHealth, ...] = ()

    @property
    def all_failed(self) -> bool:
        return bool(self.sources) and not any(s.ok for s in self.sources)


def collect(
    config: Config,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    client: httpx.Client | None = None,
    conn: Connection | None = None,
) -> Collection:
    """Run every source in ``config.sources`` and gather the results, in config order.

    Sources run in parallel threads (at most ``MAX_PARALLEL``), so twenty slow feeds cost the
    slowest one's time, not the sum. Each thread that needs the state database opens its own
    connection: one SQLite connection must not carry two threads' transactions.

    ``since`` / ``until`` are the window selection will look at (default: ``selection.days``
    up to now); a source that can ask for just that window does (WordPress), the others
    return everything, and each source's health counts its reviews in and out of it.

    ``client`` is shared by the network sources; when none is given, one is made from the
    ``http:`` limits and closed afterwards. ``conn`` (the state database) lets feeds remember
    ETag / Last-Modified between runs; without it every fetch is unconditional.
    """
    window = _Window(now, since, until)
    if client is not None:
        return _collect_all(config, window, client=client, conn=conn)
    from digest.collect.http import make_client  # the network stage's module, on first use

    with make_client(config.http) as own_client:
        return _collect_all(config, window, client=own_client, conn=conn)


@dataclass(frozen=True, slots=True)
class _Window:
    now: datetime
    since: datetime | None
    until: datetime | None

    def bounds(self, config: Config) -> tuple[datetime, datetime]:
        start = self.since or window_start(config, self.now.astimezone(config.newsletter.tz))
        return start, self.until or self.now


#: Sources fetched at once: enough to overlap slow servers, few enough to be polite.
MAX_PARALLEL = 8

_Outcome = tuple[SourceHealth, SourceResult | None]


def _collect_all(
    config: Config, window: _Window, *, client: httpx.Client, conn: Connection | None
) -> Collection:
    def run(entry: SourceConfig) -> _Outcome:
        own = db.open_for(config) if conn is not None and entry.type != "folder" else None
        try:
            return _collect_one(config, entry, window, client=client, conn=own)
        finally:
            if own is not None:
                own.close()

    workers = max(1, min(MAX_PARALLEL, len(config.sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digest-source") as pool:
        outcomes = list(pool.map(run, config.sources))
    reviews: list[Review] = []
    problems: list[Problem] = []
    skipped: list[Skipped] = []
    for health, result in outcomes:
        if result is None:
            problems.append(Problem(health.label, health.error))
            continue
        reviews.extend(result.reviews)
        problems.extend(result.problems)
        skipped.extend(result.skipped)
    return Collection(
        reviews=tuple(reviews),
        problems=tuple(problems),
        skipped=tuple(skipped),
        sources=tuple(health for health, _ in outcomes),
    )


def _collect_one(
    config: Config,
    entry: SourceConfig,
    window: _Window,
    *,
    client: httpx.Client,
    conn: Connection | None,
) -> _Outcome:
    """One source's reviews, or its failure as a ``SourceHealth`` with ``error`` set."""
    label = entry.label
    try:
        source = REGISTRY[entry.type](entry, settings=config, client=client, conn=conn)
        result = source.collect(now=window.now, since=window.since, until=window.until)
        result = apply_filters(entry, config.source_key(entry), result)
    except DigestError as e:
        return SourceHealth(label, entry.type, error=_without_prefix(e, label)), None
    except Exception as e:  # one source's bug must not cost the others their reviews
        log.debug("source %s failed unexpectedly", label, exc_info=True)
        message = (
            f"unexpected error ({type(e).__name__}: {e}); the source was skipped — "
            "please report this as a bug in digest"
        )
        return SourceHealth(label, entry.type, error=message), None
    return _health(config, entry, window, result), result


def _health(
    config: Config, entry: SourceConfig, window: _Window, result: SourceResult
) -> SourceHealth:
    start, end = window.bounds(config)
    inside = sum(1 for r in result.reviews if start <= r.published < end)
    dates = [r.published for r in result.reviews]
    dates += [result.older_latest] if result.older_latest else []
    return SourceHealth(
        entry.label,
        entry.type,
        reviews=len(result.reviews),
        problems=len(result.problems),
        in_period=inside,
        outside=len(result.reviews) - inside + result.older,
        latest=max(dates, default=None),
    )


def check_config(config: Config) -> list[ConfigError]:
    """What ``digest check`` verifies beyond loading, one error per problem: secrets the config
    names are set, and the state database, the outbox and the CA file it will use can be used."""
    shown = str(config.path)
    problems: list[ConfigError] = []
    if config.smtp is not None:
        try:
            config.smtp.password(shown)
        except ConfigError as e:
            problems.append(e)
    # A PostgreSQL problem carries its own fix (the server, the role, the database).
    state_fix = "point it at a file digest can write"
    if db.is_postgres(config.state):
        state_fix = "then run `digest check` again"
    found = [("state", db.state_problem(config.state), state_fix)]
    if config.smtp is None:
        fix = "point it at a folder digest can write, or configure smtp:"
        found.append(("outbox", usable.maildir_problem(config.outbox), fix))
    elif config.smtp.ca_file is not None:
        fix = "point it at a PEM file of CA certificates, or remove the key"
        found.append(("smtp.ca_file", usable.ca_file_problem(config.smtp.ca_file), fix))
    for key, problem, fix in found:
        if problem:
            problems.append(ConfigError(shown, f"{problem}; {fix}", key=key))
    return problems


def _without_prefix(error: DigestError, label: str) -> str:
    """The message without a leading ``source <label>:``, which the report shows already."""
    message = str(error)
    prefix = f"source {label}: "
    if isinstance(error, SourceError) and message.startswith(prefix):
        return message[len(prefix) :]
    return message


# ---------------------------------------------------------------------------------------------
# For scripts: a review as plain JSON-ready data (``digest sources --json``)
# ---------------------------------------------------------------------------------------------


def review_record(review: Review) -> dict[str, Any]:
    """One review as JSON-ready data; every key is always present (``null`` when unknown)."""
    facts = review.facts
    image = review.image
    return {
        "id": review.id,
        "title": review.title,
        "url": review.link,
        "published": review.published.isoformat(),
        "author": review.author or None,
        "overview": review.overview or None,
        "facts": None
        if facts is None
        else {
            "raw": facts.raw,
            "network": facts.network,
            "year": facts.year,
            "certificate": facts.certificate,
            "runtime": facts.runtime,
        },
        "sections": [{"heading": s.heading, "text": s.text} for s in review.sections],
        "verdict": review.verdict or None,
        "grade": review.grade.letter if review.grade else None,
        "grade_raw": review.grade.raw if review.grade else None,
        "image": None
        if image is None
        else {"url": image.url, "alt": image.alt or None, "credit": image.credit or None},
        "source": review.source,
    }
