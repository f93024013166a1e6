"""What digest holds about one person, handed over (``export``) or erased (``erase``).

``export`` gathers every row about an address: the subscriber record, its events with their
evidence, and each issue copy with what became of it. Tokens are left out: they are keys, not
information about the person.

``erase`` removes the person and keeps the ledger whole: the ``subscribers`` row becomes a
tombstone (status ``erased``, no address, no name, no extra fields, a fresh token) so every
issue's counts still add up; the events go; each delivery row loses its address, its Message-ID
(derived from the address) and its error text (servers quote the address). A keyed hash of the
address goes into ``erased`` so no import brings it back. ``secure_delete`` overwrites the
freed pages and the WAL is checkpointed and truncated, so the address is not left in the file.
On PostgreSQL the old row versions stay in the table's pages until ``VACUUM`` reclaims them
(autovacuum does, within minutes on a busy table) and in WAL and base backups until those are
recycled — the server's retention is the operator's, as the README says for SQLite backups.
Copies outside the database — the outbox, the IMAP mailbox, a backup made by a migration —
are the operator's to remove (the README says so).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from digest.state import erased, events
from digest.state.db import Connection, is_postgres, transaction

_FIELDS = "email, name, extra, status, created_at, updated_at, confirmed_at, soft_bounces, id"


def export(conn: Connection, email: str) -> dict[str, Any] | None:
    """Everything about ``email`` as JSON-ready data, or ``None`` when it is not known."""
    row = conn.execute(
        f"SELECT {_FIELDS} FROM subscribers WHERE email = ?",  # noqa: S608 (fixed columns)
        (email.strip(),),
    ).fetchone()
    if row is None:
        return None
    record = dict(row)
    sid = record.pop("id")
    record["extra"] = json.loads(record["extra"])
    deliveries = conn.execute(
        """SELECT d.issue_id AS issue, i.subject, d.status, d.attempts, d.last_error AS error,
                  d.message_id, d.updated_at
           FROM deliveries d JOIN issues i ON i.id = d.issue_id
           WHERE d.subscriber_id = ? ORDER BY d.issue_id""",
        (sid,),
    )
    return {
        "subscriber": record,
        "events": [
            {"kind": e.kind, "at": e.at, "detail": e.detail, "evidence": e.evidence}
            for e in events.history(conn, sid)
        ],
        "deliveries": [dict(d) for d in deliveries],
    }


#: The whole-list export's columns, in order (``extra`` holds the import file's other columns).
LIST_FIELDS = (
    "email", "name", "status", "created_at", "updated_at", "confirmed_at", "soft_bounces",
)  # fmt: skip


def export_all(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every subscriber but erased tombstones, oldest first: the record without its token
    (``LIST_FIELDS`` plus ``extra``), streamed."""
    rows = conn.execute(
        f"SELECT {', '.join(LIST_FIELDS)}, extra FROM subscribers "  # noqa: S608 (fixed columns)
        "WHERE status != 'erased' ORDER BY id"
    )
    for row in rows:
        record = dict(row)
        record["extra"] = json.loads(record["extra"] or "{}")
        yield record


def erase(conn: Connection, email: str, *, now: datetime) -> bool:
    """Erase ``email`` (see the module docstring); ``False`` when it is not known."""
    if is_postgres(conn):  # no secure_delete: see the module docstring (VACUUM)
        return _erase(conn, email, now.isoformat(timespec="seconds"))
    conn.execute("PRAGMA secure_delete = ON")
    try:
        found = _erase(conn, email, now.isoformat(timespec="seconds"))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.execute("PRAGMA secure_delete = OFF")
    return found


def _erase(conn: Connection, email: str, stamp: str) -> bool:
    with transaction(conn):
        row = conn.execute(
            "SELECT id, email FROM subscribers WHERE email = ? AND status != 'erased'",
            (email.strip(),),
        ).fetchone()
        if row is None:
            return False
        sid = row["id"]
        erased.remember(conn, row["email"], stamp)
        conn.execute("DELETE FROM events WHERE subscriber_id = ?", (sid,))
        conn.execute(
            """UPDATE deliveries SET email = '', message_id = '', last_error = ''
               WHERE subscriber_id = ?""",
            (sid,),
        )
        conn.execute(
            """UPDATE subscribers SET email = ?, name = '', extra = '{}', status = 'erased',
                   token = ?, confirm_hash = NULL, confirm_expires = NULL,
                   confirmed_at = NULL, soft_bounces = 0, created_at = ?, updated_at = ?
               WHERE id = ?""",
            (f"erased-{sid}@erased.invalid", secrets.token_urlsafe(32), stamp, stamp, sid),
        )
    return True
