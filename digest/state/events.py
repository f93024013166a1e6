"""A subscriber's history (the ``events`` table), and what an inbound report does to them.

Every event keeps its evidence: for a bounce or a complaint, the report's own Message-ID, the
status code and the server's words, so ``digest subscribers export`` can show *why* an address
stopped being mailed. An inbound message has its effect once: ``(source, subscriber, kind)`` is
unique, so a mailbox read twice (a dropped IMAP connection before the message was moved)
counts nothing twice. Soft bounces are counted from these rows, within
``inbound.soft_bounce_window`` (``apply_report``); the confirmation event also records whether
the welcome mail left (``add_evidence``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from digest.state.db import Connection, is_postgres, transaction
from digest.status import EventKind, InboundKind, SubscriberStatus

#: How far back soft bounces count when no ``inbound.soft_bounce_window`` is configured.
SOFT_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    at: str
    detail: str
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Applied:
    """What an inbound report did: to whom, and whether it was new."""

    email: str
    kind: InboundKind
    status: SubscriberStatus
    repeated: bool


def record(
    conn: Connection,
    subscriber_id: int,
    kind: EventKind,
    *,
    at: datetime,
    detail: str = "",
    evidence: dict[str, Any] | None = None,
    source: str | None = None,
) -> bool:
    """Add one event inside the caller's transaction; ``False`` if ``source`` already had it."""
    cur = conn.execute(
        """INSERT INTO events (subscriber_id, kind, at, detail, evidence, source)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
        (
            subscriber_id,
            kind,
            at.isoformat(timespec="seconds"),
            detail[:500],
            json.dumps(evidence or {}, sort_keys=True),
            source,
        ),
    )
    return cur.rowcount > 0


def add_evidence(
    conn: Connection, subscriber_id: int, kind: EventKind, evidence: dict[str, Any]
) -> bool:
    """Add ``evidence`` to the subscriber's latest ``kind`` event: what came of it afterwards
    (after ``confirmed``, whether the welcome mail left). ``False`` if there is no such event
    (erased, or purged, in the meantime)."""
    with transaction(conn):
        row = conn.execute(
            "SELECT id, evidence FROM events WHERE subscriber_id = ? AND kind = ? "
            "ORDER BY id DESC LIMIT 1",
            (subscriber_id, kind),
        ).fetchone()
        if row is None:
            return False
        merged = {**json.loads(row["evidence"]), **evidence}
        conn.execute(
            "UPDATE events SET evidence = ? WHERE id = ?",
            (json.dumps(merged, sort_keys=True), row["id"]),
        )
    return True


def history(conn: Connection, subscriber_id: int) -> list[Event]:
    rows = conn.execute(
        "SELECT kind, at, detail, evidence FROM events WHERE subscriber_id = ? ORDER BY id",
        (subscriber_id,),
    )
    return [Event(r["kind"], r["at"], r["detail"], json.loads(r["evidence"])) for r in rows]


_JSON_FIELD = {
    "sqlite": "json_extract(evidence, '$.{}')",
    "postgresql": "(evidence::jsonb ->> '{}')",
}


def count_since(
    conn: Connection, kind: EventKind, since: datetime, *, subscriber_id: int | None = None,
    ip: str | None = None, mailed: bool = False,
) -> int:  # fmt: skip
    """How many ``kind`` events since ``since``, for one subscriber or from one IP address;
    ``mailed``: only sign-ups that sent a confirmation mail (not over ``signup.per_hour``)."""
    sql = "SELECT count(*) FROM events WHERE kind = ? AND at >= ?"
    args: list[object] = [kind, since.isoformat(timespec="seconds")]
    # The evidence is JSON text on both backends; each reads a field its own way.
    field = _JSON_FIELD["postgresql" if is_postgres(conn) else "sqlite"]
    if mailed:
        sql += f" AND {field.format('capped')} IS NULL"
    if subscriber_id is not None:
        sql += " AND subscriber_id = ?"
        args.append(subscriber_id)
    if ip is not None:
        sql += f" AND {field.format('ip')} = ?"
        args.append(ip)
    return int(conn.execute(sql, args).fetchone()[0])


def match(
    conn: Connection,
    addresses: Iterable[str] = (),
    tokens: Iterable[str] = (),
    message_ids: Iterable[str] = (),
    verp: Iterable[str] = (),
) -> tuple[int, str] | None:
    """The subscriber an inbound report is about: by the token in the VERP address it came
    back to, by address, then by the unsubscribe token or the Message-ID of our copy that it
    quotes (complaints often hide the address)."""
    for token in verp:
        row = conn.execute("SELECT id, email FROM subscribers WHERE token = ?", (token,))
        if found := row.fetchone():
            return int(found[0]), str(found[1])
    for address in addresses:
        row = conn.execute("SELECT id, email FROM subscribers WHERE email = ?", (address,))
        if found := row.fetchone():
            return int(found[0]), str(found[1])
    for token in tokens:
        row = conn.execute("SELECT id, email FROM subscribers WHERE token = ?", (token,))
        if found := row.fetchone():
            return int(found[0]), str(found[1])
    for message_id in message_ids:
        row = conn.execute(
            """SELECT s.id, s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
               WHERE d.message_id = ? AND s.status != 'erased'""",
            (message_id,),
        )
        if found := row.fetchone():
            return int(found[0]), str(found[1])
    return None


#: The status each kind of report moves an address to, from the statuses it applies to.
_MOVES: dict[InboundKind, tuple[SubscriberStatus, Sequence[SubscriberStatus]]] = {
    "hard-bounce": ("bounced", ("active", "pending")),
    "complaint": ("complained", ("active", "pending", "unsubscribed", "bounced")),
    "unsubscribe": ("unsubscribed", ("active", "pending")),
}
_EVENT: dict[InboundKind, EventKind] = {
    "hard-bounce": "hard-bounce",
    "soft-bounce": "soft-bounce",
    "complaint": "complaint",
    "unsubscribe": "unsubscribed",
}


def apply_report(
    conn: Connection,
    subscriber: tuple[int, str],
    kind: InboundKind,
    *,
    at: datetime,
    source: str,
    detail: str,
    evidence: dict[str, Any],
    soft_limit: int,
    soft_window: timedelta = SOFT_WINDOW,
) -> Applied:
    """Record a bounce, complaint or unsubscribe and move the address — once per message.

    A soft bounce moves the address to ``bounced`` only when it is the ``soft_limit``-th within
    ``soft_window`` (ending at ``at``); see ``_soft_count`` for what ``soft_bounces`` holds."""
    sid, email = subscriber
    stamp = at.isoformat(timespec="seconds")
    with transaction(conn):
        new = record(conn, sid, _EVENT[kind], at=at, detail=detail, evidence=evidence,
                     source=source)  # fmt: skip
        if new and kind == "soft-bounce":
            count = _soft_count(conn, sid, at - soft_window)
            conn.execute(
                """UPDATE subscribers SET soft_bounces = ?, updated_at = ?,
                       status = CASE WHEN ? >= ? AND status IN ('active', 'pending')
                                     THEN 'bounced' ELSE status END
                   WHERE id = ?""",
                (count, stamp, count, soft_limit, sid),
            )
        elif new and kind in _MOVES:
            to, allowed = _MOVES[kind]
            marks = ", ".join("?" * len(allowed))
            conn.execute(
                f"UPDATE subscribers SET status = ?, updated_at = ? "  # noqa: S608 (fixed marks)
                f"WHERE id = ? AND status IN ({marks})",
                (to, stamp, sid, *allowed),
            )
        status = conn.execute("SELECT status FROM subscribers WHERE id = ?", (sid,)).fetchone()[0]
    return Applied(email, kind, status, repeated=not new)


def _soft_count(conn: Connection, sid: int, since: datetime) -> int:
    """The soft bounces that count now, the one just recorded included: those after ``since``
    (the window's start) and after the count was last reset to 0 (a confirmation, or the
    operator re-adding the address).

    The events keep every soft bounce but not when the count was reset, so the reset is
    read from ``soft_bounces`` itself: it is at most one more than before. If any bounce
    since the reset has left the window, every older one has too, and the events in the
    window are exactly the ones that count; if none has, the count is the old one plus
    this bounce. Either way it is the smaller of the two. Times are compared as datetimes,
    not as text: events written in different UTC offsets still order correctly.
    """
    row = conn.execute("SELECT soft_bounces FROM subscribers WHERE id = ?", (sid,)).fetchone()
    rows = conn.execute(
        "SELECT at FROM events WHERE subscriber_id = ? AND kind = 'soft-bounce'", (sid,)
    )
    recent = sum(1 for (when,) in rows if datetime.fromisoformat(when) > since)
    return min(int(row[0]) + 1, recent)
