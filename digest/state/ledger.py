"""The ledger: the ``issues`` and ``issue_reviews`` tables — what each issue is, what it carried.

An issue is recorded with one ``pending`` delivery row per active subscriber and its review ids
in ONE transaction (``record_issue``); where each copy then stands is ``state.deliveries``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digest.models import Markers, Period, RenderedDigest
from digest.state.db import Connection, Where, stamp, transaction
from digest.state.deliveries import counts
from digest.status import IssueStatus


@dataclass(frozen=True, slots=True)
class StoredIssue:
    """An issue as the ledger keeps it: enough to resume sending without re-rendering."""

    key: str
    status: IssueStatus
    subject: str
    preheader: str
    html: str
    text: str
    markers: Markers
    review_count: int
    note: str
    created_at: str
    finished_at: str | None
    #: Random per issue, fixed once recorded: part of every copy's Message-ID.
    nonce: str = ""


@dataclass(frozen=True, slots=True)
class IssueSummary:
    key: str
    status: IssueStatus
    subject: str
    review_count: int
    created_at: str
    finished_at: str | None
    note: str
    counts: dict[str, int]


def get_issue(conn: Connection, key: str) -> StoredIssue | None:
    row = conn.execute("SELECT * FROM issues WHERE id = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        raw = json.loads(row["markers"] or "{}")
        markers = Markers(
            unsubscribe_url=raw["unsubscribe_url"],
            name=raw["name"],
            greeting=raw.get("greeting", ""),
        )
    except (ValueError, KeyError, TypeError):
        markers = Markers.make()  # an empty issue has no markers; nothing will be sent
    return StoredIssue(
        key=row["id"],
        status=row["status"],
        subject=row["subject"],
        preheader=row["preheader"],
        html=row["html"],
        text=row["text"],
        markers=markers,
        review_count=row["review_count"],
        note=row["note"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        # Issues recorded before schema 2 have no nonce: one is derived from what is stored
        # with them (markers are random per render), so their ids still never repeat.
        nonce=row["nonce"] or _derived_nonce(row["markers"], row["created_at"]),
    )


def _derived_nonce(markers: str, created_at: str) -> str:
    return hashlib.sha256(f"{markers}\0{created_at}".encode()).hexdigest()[:16]


def sent_review_ids(conn: Connection) -> frozenset[str]:
    """Every review already carried by an issue: selection leaves these out."""
    return frozenset(r[0] for r in conn.execute("SELECT review_id FROM issue_reviews"))


def carry_since(conn: Connection, period: Period) -> datetime | None:
    """Where the window of ``period`` reaches back to: the start of the latest earlier issue
    that carried reviews, when that is before ``period.start`` — else ``None``.

    A review that issue left out (over ``max_reviews``, trimmed for Gmail's clipping, or
    published into its window after it went out) is still due, and an issue sent early in a
    week (a manual run) must not leave a gap before the next one. Only the nominal start of
    each issue is stored, so the reach is one issue back, never the whole history.
    """
    latest: tuple[datetime, datetime] | None = None
    for row in conn.execute(
        "SELECT period_start, period_end FROM issues WHERE id != ? AND status IN "
        "('sending', 'done')",
        (period.key,),
    ):
        try:
            start, end = datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1])
        except (TypeError, ValueError):
            continue
        if start.tzinfo is None or end.tzinfo is None or end > period.end:
            continue
        if latest is None or end > latest[1]:
            latest = (start, end)
    if latest is None or latest[0] >= period.start:
        return None
    return latest[0]


@dataclass(frozen=True, slots=True)
class IssueDraft:
    """What the ledger records of a rendered issue: enough to make every copy and to know
    which reviews it carried. Kept as is for an issue awaiting approval (``state.approvals``),
    so the approved issue goes out exactly as it was approved."""

    period: Period
    subject: str
    preheader: str
    html: str
    text: str
    markers: Markers
    #: ``(title, identities)`` of each review carried: its link and source + guid ids.
    reviews: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, rendered: RenderedDigest) -> IssueDraft:
        return cls(
            period=rendered.period, subject=rendered.subject, preheader=rendered.preheader,
            html=rendered.html, text=rendered.text, markers=rendered.markers,
            reviews=tuple((r.title, tuple(sorted(r.identities))) for r in rendered.reviews),
        )  # fmt: skip


def record_issue(conn: Connection, rendered: RenderedDigest, *, now: datetime, path: Where) -> int:
    """``record_draft`` of a rendering just made."""
    return record_draft(conn, IssueDraft.of(rendered), now=now, path=path)


def record_draft(conn: Connection, draft: IssueDraft, *, now: datetime, path: Where) -> int:
    """Record the issue, a ``pending`` row per active subscriber, its reviews' identities (link
    and guid) — ONE transaction, so a failure leaves nothing behind. Returns recipients.
    """
    at = stamp(now)
    markers = json.dumps({"unsubscribe_url": draft.markers.unsubscribe_url,
                          "name": draft.markers.name,
                          "greeting": draft.markers.greeting})  # fmt: skip
    key = draft.period.key
    with transaction(conn, path):
        conn.execute(
            """INSERT INTO issues (id, period_start, period_end, status, subject, preheader,
                                   markers, html, text, review_count, created_at, nonce)
               VALUES (?, ?, ?, 'sending', ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                key,
                draft.period.start.isoformat(),
                draft.period.end.isoformat(),
                draft.subject,
                draft.preheader,
                markers,
                draft.html,
                draft.text,
                len(draft.reviews),
                at,
                secrets.token_hex(8),  # for Message-IDs; issues from before schema 2 keep ''
            ),
        )
        # INSERT … SELECT: the list never passes through Python, whatever its size.
        cur = conn.execute(
            """INSERT INTO deliveries (issue_id, subscriber_id, email, status, updated_at)
               SELECT ?, id, email, 'pending', ? FROM subscribers WHERE status = 'active'
               ORDER BY id""",
            (key, at),
        )
        recipients = cur.rowcount
        conn.executemany(
            "INSERT INTO issue_reviews (review_id, issue_id, title) VALUES (?, ?, ?) "
            "ON CONFLICT (review_id) DO NOTHING",
            [(i, key, title) for title, ids in draft.reviews for i in ids],
        )
    return recipients


def record_empty(
    conn: Connection, period: Period, note: str, *, now: datetime, path: Where
) -> None:
    """An issue with nothing to send: recorded so the period is never built twice."""
    with transaction(conn, path):
        conn.execute(
            """INSERT INTO issues (id, period_start, period_end, status, note, created_at,
                                   finished_at)
               VALUES (?, ?, ?, 'empty', ?, ?, ?)""",
            (period.key, period.start.isoformat(), period.end.isoformat(), note,
             stamp(now), stamp(now)),
        )  # fmt: skip


def finish_if_complete(conn: Connection, key: str, *, now: datetime, path: Where) -> bool:
    """Mark the issue ``done`` once no row is pending, sending or deferred."""
    with transaction(conn, path):
        cur = conn.execute(
            """UPDATE issues SET status = 'done', finished_at = ?
               WHERE id = ? AND status = 'sending' AND NOT EXISTS (
                   SELECT 1 FROM deliveries WHERE issue_id = ?
                   AND status IN ('pending', 'sending', 'deferred'))""",
            (stamp(now), key, key),
        )
    return cur.rowcount == 1


def history(conn: Connection, limit: int = 50) -> list[IssueSummary]:
    """Issues, newest first, with their delivery counts."""
    issues = conn.execute(
        """SELECT id, status, subject, review_count, created_at, finished_at, note
           FROM issues ORDER BY created_at DESC, id DESC LIMIT ?""",
        (limit,),
    ).fetchall()
    return [
        IssueSummary(
            key=r["id"],
            status=r["status"],
            subject=r["subject"],
            review_count=r["review_count"],
            created_at=r["created_at"],
            finished_at=r["finished_at"],
            note=r["note"],
            counts=counts(conn, r["id"]),
        )
        for r in issues
    ]


# Read by the web archive


@dataclass(frozen=True, slots=True)
class ArchivedIssue:
    key: str
    subject: str
    preheader: str
    review_count: int
    sent: datetime

    def sent_on(self, tz: ZoneInfo) -> str:
        """The day it went out, in the newsletter's timezone: ``25 Nov 2026``."""
        local = self.sent.astimezone(tz)
        return f"{local.day} {local:%b %Y}"


def _when(row: Any) -> datetime:
    """When an issue went out: ``finished_at``, else when it was created, else its period."""
    for column in ("finished_at", "created_at", "period_end"):
        value = row[column]
        if not value:
            continue
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, UTC)


def _issue(row: Any) -> ArchivedIssue:
    return ArchivedIssue(
        key=row["id"],
        subject=row["subject"] or row["id"],
        preheader=row["preheader"],
        review_count=row["review_count"],
        sent=_when(row),
    )


_COLUMNS = "id, subject, preheader, review_count, finished_at, created_at, period_end"


def sent_issues(conn: Connection, limit: int = 1000) -> list[ArchivedIssue]:
    """Finished issues, newest first. An issue still going out appears once it is done."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM issues WHERE status = 'done' "  # noqa: S608 (constant columns)
        "ORDER BY period_start DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [_issue(r) for r in rows]


# Read by the pipeline and the scheduler's tick


def unfinished(conn: Connection) -> list[tuple[str, str]]:
    """``(key, period_end)`` of each issue left ``sending`` (a crash, a stop), oldest first."""
    rows = conn.execute("SELECT id, period_end FROM issues WHERE status = 'sending' ORDER BY id")
    return [(r["id"], r["period_end"]) for r in rows]


def stored_period(conn: Connection, key: str) -> Period | None:
    """The period issue ``key`` was recorded for, or ``None`` when there is no such issue."""
    row = conn.execute(
        "SELECT period_start, period_end FROM issues WHERE id = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    start, end = datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1])
    return Period(key=key, start=start, end=end)


def issue_keys(conn: Connection) -> list[str]:
    """Every recorded issue's key, newest first (for a message naming what there is)."""
    return [r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id DESC")]
