"""What every source is: a small class with one job, like a Pelican reader.

A source is built from its entry in ``config.yaml`` plus what it may share with the others
(the settings, one ``httpx.Client``, the state database), and ``collect(now=..., since=...,
until=...)`` returns the reviews it found and the problems it met; ``since`` / ``until`` are the
window selection will look at, for a source that can ask its site for just that (WordPress).
A source that fails as a whole raises ``SourceError``; one bad entry or file is a ``Problem``
in the result and the rest go on.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from digest.config import Config
from digest.models import Problem, Review, Skipped


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source collected: its reviews, the entries it could not read, what it skipped.

    ``older`` counts entries the source holds before the window it was asked for and did not
    return (a WordPress site asked with ``after=``), ``older_latest`` the newest of them.
    """

    reviews: tuple[Review, ...] = ()
    problems: tuple[Problem, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    older: int = 0
    older_latest: datetime | None = None


class Source(Protocol):
    """The shape of every class in ``digest.sources.REGISTRY``.

    The constructor is ``Cls(entry, *, settings, client, conn)`` for every source; a source
    ignores what it does not need (the folder source uses neither ``client`` nor ``conn``).
    """

    label: str

    def __init__(
        self,
        entry: Any,
        *,
        settings: Config,
        client: httpx.Client,
        conn: sqlite3.Connection | None,
    ) -> None: ...

    def collect(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None
    ) -> SourceResult: ...
