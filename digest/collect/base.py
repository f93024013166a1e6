"""What every source is: a small class with one job, like a Pelican reader.

A source is built from its entry in ``config.yaml`` plus what it may share with the others
(the settings, one ``httpx.Client``, the state database), and ``collect(now=..., since=...,
until=...)`` returns the reviews it found and the problems it met; ``since`` / ``until`` are the
window selection will look at, for a source that can ask its site for just that (WordPress).
A source that fails as a whole raises ``SourceError``; one bad entry or file is a ``Problem``
in the result and the rest go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx

from digest.config import Config
from digest.errors import SourceError
from digest.models import Problem, Review, Skipped
from digest.state.db import Connection


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


class Deadline:
    """``http.total_timeout`` for a fetch *and* the reading of what it fetched.

    The fetch keeps to it by itself; ``check`` is called between the steps of reading (after
    parsing, before each entry), each of which is bounded in size and work, so a document
    that is slow to read is stopped within one step and the source is skipped with one line.
    """

    def __init__(self, seconds: float, label: str) -> None:
        self.seconds = seconds
        self.label = label
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(self.end - time.monotonic(), 0.0)

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise self.expired()

    def expired(self) -> SourceError:
        return SourceError(
            self.label,
            f"fetching and reading the feed took longer than http.total_timeout "
            f"({self.seconds:g} s); skipped — the feed is too large or too complex to "
            "read in time (raise http.total_timeout if it is simply big)",
        )


class Source(Protocol):
    """The shape of every class in ``digest.collect.registry.REGISTRY``.

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
        conn: Connection | None,
    ) -> None: ...

    def collect(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None
    ) -> SourceResult: ...


class _Labelled(Protocol):
    @property
    def label(self) -> str: ...


Entry = TypeVar("Entry", bound=_Labelled)


class NetworkSource(Generic[Entry]):
    """What every network source keeps: its ``sources:`` entry, the settings, the guarded
    ``httpx.Client`` and the state database (for the HTTP cache), and its label."""

    def __init__(
        self,
        entry: Entry,
        *,
        settings: Config,
        client: httpx.Client,
        conn: Connection | None = None,
    ) -> None:
        self.entry = entry
        self.settings = settings
        self.client = client
        self.conn = conn
        self.label = entry.label
