"""The one answer to "what does this period's issue hold?".

``prepare_issue`` is the only place that walks period → ledger → collect → select → (render):
``digest build``, the preview, ``digest sources``, ``digest next``, a dry run, a test copy, a
real send and the scheduler all call it, so a rule about carry-over, the empty week or a
failed source is written here once.

In order:

1. the ledger (when there is one) says what was sent before: the ids of reviews already in an
   issue, how far back this period reaches for what the previous issue left out
   (``ledger.carry_since``; an explicit ``--since`` is the whole window and reaches back no
   further), and the issue already recorded for this period, if any;
2. with ``use_stored``, an issue already recorded answers by itself (a started issue is never
   re-rendered; a ``done`` or ``empty`` one is never built again);
3. otherwise every source is collected (for the window, reach-back included) and the reviews
   selected; then ``no-sources`` when every source failed, or one failed and nothing is new (a
   broken source never reads as a quiet week); ``stored`` when the period's issue went out and
   nothing is new since (no quiet note for a week that was sent); ``nothing-new`` when nothing
   is new and no quiet-week note is configured; else the digest is rendered (``ready``).

Nothing is written here. ``remember`` lets the collection store feeds' ETag / Last-Modified in
the state's HTTP cache: only a real send does, so a look never moves what the real runs saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from digest.collect import Collection, collect
from digest.config import Config
from digest.errors import DigestError, NothingCollected
from digest.models import Period, Problem, RenderedDigest, Review, plural
from digest.period import current_period
from digest.render.compose import empty_period_message, render_digest
from digest.render.note import leftover_notes, load_note
from digest.select import Selected, select_reviews, sort_reviews
from digest.state import db, ledger
from digest.state.db import Connection
from digest.state.forget import issue_reviews
from digest.state.ledger import StoredIssue

#: Where a period's issue stands, as ``prepare_issue`` found it.
IssueState = Literal[
    "stored",  # already recorded in the ledger (sending, done or empty): see ``stored``
    "no-sources",  # a source failed and nothing new came from the others: not a quiet week
    "nothing-new",  # the sources answered, but nothing is new and no quiet note is wanted
    "ready",  # a digest was rendered (or, with render=False, there is something to render)
]


@dataclass(frozen=True, slots=True)
class PreparedIssue:
    """One period's issue as it would go out now; frozen, handed to whoever asked."""

    period: Period
    state: IssueState
    stored: StoredIssue | None = None
    collection: Collection | None = None
    selected: Selected | None = None
    rendered: RenderedDigest | None = None

    @property
    def broken(self) -> bool:
        """A source failed and nothing could be collected: commands exit non-zero."""
        return self.state == "no-sources"

    @property
    def why_nothing(self) -> str:
        """Why there is nothing to send, in one line; "" when there is a digest.

        The one answer every command prints (build, preview, sources, send --dry-run / --to,
        a run): a broken source never reads like a quiet week.
        """
        key = self.period.key
        if self.state == "stored" and self.stored is not None:
            if self.stored.status == "empty":
                return f"issue {key} had nothing to send: {self.stored.note}"
            if self.stored.status == "done":
                n = self.stored.review_count
                return (
                    f"issue {key} already sent with {plural(n, 'review')}; "
                    f"`digest build --issue {key}` re-renders it with the current templates"
                )
            return ""
        if self.state == "no-sources":
            return self._why_broken()
        if self.state == "nothing-new":
            return empty_period_message(self.period)
        return ""

    def _why_broken(self) -> str:
        failed = [s for s in self.collection.sources if not s.ok] if self.collection else []
        what = "; ".join(f"{s.label}: {s.error}" for s in failed)
        after = "nothing was recorded or sent; fix it and run again"
        if self.collection is not None and self.collection.all_failed:
            if len(failed) == 1:
                return f"the only source failed ({what}); {after}"
            return f"every source failed ({what}); {after}"
        names = ", ".join(s.label for s in failed)
        return (
            f"source {names} failed ({what}) and no other source had new reviews for "
            f"{self.period.key}; {after}"
        )


@contextmanager
def existing_state(config: Config) -> Iterator[Connection | None]:
    """The state database if it exists (for a look that must not create one), else ``None``."""
    if not db.state_exists(config.state):
        yield None
        return
    conn = db.open_for(config, create=False)
    try:
        yield conn
    finally:
        conn.close()


def prepare_issue(
    config: Config,
    period: Period,
    *,
    now: datetime,
    conn: Connection | None,
    client: httpx.Client | None = None,
    whole_window: bool = False,
    use_stored: bool = False,
    render: bool = True,
    remember: bool = False,
    collection: Collection | None = None,
) -> PreparedIssue:
    """What ``period``'s issue holds now (see the module docstring for the rules).

    ``conn``: the state database, or ``None`` when there is none yet (nothing counts as sent).
    ``whole_window``: the period was given explicitly (``--since``), so it does not reach back
    for the previous issue's left-overs. ``collection``: reuse one already made (the preview).
    """
    stored = ledger.get_issue(conn, period.key) if conn is not None else None
    if use_stored and stored is not None:
        return PreparedIssue(period, "stored", stored=stored)
    sent = ledger.sent_review_ids(conn) if conn is not None else frozenset()
    reach = None if whole_window or conn is None else ledger.carry_since(conn, period)
    if collection is None:
        # The window asked of the sources (WordPress filters by it) reaches back as selection does.
        collection = collect(
            config, now=now, since=reach or period.start, until=period.end, client=client,
            conn=conn if remember else None,
        )  # fmt: skip
    selected = select_reviews(
        config, collection, period, already_sent=sent, now=now, carry_since=reach
    )
    failed = any(not s.ok for s in collection.sources)
    if collection.all_failed or (failed and not selected.reviews):
        return PreparedIssue(period, "no-sources", stored, collection, selected)
    if stored is not None and stored.status == "done" and not selected.reviews:
        # The week went out already: its reviews are "sent", so a quiet note would be a lie.
        return PreparedIssue(period, "stored", stored, collection, selected)
    if not (selected.reviews or config.newsletter.quiet_week):
        return PreparedIssue(period, "nothing-new", stored, collection, selected)
    rendered = None
    if render:
        note = load_note(config, period.key)
        rendered = render_digest(
            config, period, selected.reviews, now=now, window_start=reach, note=note
        )
        leftover = leftover_notes(config, period.key)
        rendered = dataclasses.replace(rendered, warnings=(*rendered.warnings, *leftover))
    return PreparedIssue(period, "ready", stored, collection, selected, rendered)


def look_at_issue(
    config: Config,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    period: Period | None = None,
    client: httpx.Client | None = None,
    render: bool = True,
    collection: Collection | None = None,
) -> PreparedIssue:
    """``prepare_issue`` for the period of ``now`` (or ``period``) as a look that changes
    nothing: the state is only read, and never created (``build``, ``preview``, ``sources``,
    ``next``)."""
    if period is None:
        period = current_period(config, now, since=since, until=until)
    with existing_state(config) as conn:
        return prepare_issue(
            config, period, now=now, conn=conn, client=client, whole_window=since is not None,
            render=render, collection=collection,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reissue:
    """A sent issue re-rendered with the current templates (``digest build --issue``)."""

    rendered: RenderedDigest
    carried: int  # how many reviews the ledger says the issue carried
    missing: tuple[str, ...]  # titles of those the sources no longer give
    problems: tuple[Problem, ...]


def reissue(
    config: Config, key: str, *, now: datetime, client: httpx.Client | None = None
) -> Reissue:
    """Issue ``key`` re-rendered: its stored period, and the reviews it carried.

    The ledger keeps each issue's rendered HTML and its reviews' ids, not the reviews
    themselves, so they are collected again from the sources for that period and only the ids
    the issue carried are kept; ``missing`` names any the sources no longer give. Nothing is
    written.
    """
    with existing_state(config) as conn:
        period = ledger.stored_period(conn, key) if conn is not None else None
        if conn is None or period is None:
            known = ", ".join(ledger.issue_keys(conn)) if conn is not None else ""
            raise DigestError(
                f"there is no issue {key} to re-render"
                + (f" (issues: {known})" if known else " (nothing has been sent yet)")
            )
        carried = issue_reviews(conn, key)
    if not carried:
        raise DigestError(f"issue {key} carried no reviews, so there is nothing to re-render")
    collection = collect(config, now=now, client=client)
    found: dict[str, Review] = {}
    for review in collection.reviews:
        if review.id in carried:
            found.setdefault(review.id, review)
    if not found:
        raise NothingCollected(
            f"none of the {plural(len(carried), 'review')} of issue {key} could be collected "
            "again from the sources (the ledger keeps their ids, not their text)"
        )
    missing = tuple(title for rid, title in carried.items() if rid not in found)
    reviews = sort_reviews(list(found.values()), config.selection.order)
    rendered = render_digest(config, period, reviews, now=now, note=load_note(config, key))
    return Reissue(rendered, len(carried), missing, collection.problems)
