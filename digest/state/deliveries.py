"""The ``deliveries`` table: where each (issue, subscriber) copy stands.

Every row moves ``pending → sending → sent | deferred | failed | unknown | skipped`` and each
move is committed before the next step: the row is claimed (``sending``) *before* the message
leaves and its outcome recorded *after*. A claim is an ``UPDATE … WHERE status = 'pending'``
whose row count is checked, so two senders can never both own a row. The rows are created with
their issue, in ``ledger.record_issue``'s one transaction.

The sender's connection uses ``synchronous = NORMAL``: in WAL mode a commit then survives the
process being killed (the data is in the WAL, in the OS page cache) and skips one ``fsync`` per
message. A power cut may roll back the last moments of the ledger; a rolled-back row only ever
moves *backwards* (``sent`` → ``sending`` → ``pending``), so it is sent again with the same
Message-ID — never lost.

**On PostgreSQL several senders share one issue** (on one host or several). A claim is one
statement: ``SELECT … FOR UPDATE SKIP LOCKED`` picks pending rows no other sender is claiming at
that instant, and the same statement marks them ``sending`` with ``claimed_by`` — the claiming
server session (``pg.PgConnection.session``). A ``sending`` row goes back to ``pending`` only
once that session is gone from ``pg_stat_activity``, i.e. its sender died (or lost the
database): so a live sender's copies in flight are never taken from it, and a dead one's are
sent again, with the same Message-ID, by whichever sender finds them — at the start of a send
(``prepare_resume``) or when no pending row is left (``claim``). If every other sender has
finished by then, the rows wait, ``sending``, for the next ``digest send`` or scheduled run,
which resumes the issue as after any crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from digest.state.db import Connection, Where, is_postgres, stamp, transaction
from digest.status import DELIVERY_ORDER, DeliveryStatus


@dataclass(frozen=True, slots=True)
class Claimed:
    """One delivery row this sender now owns (status ``sending``)."""

    subscriber_id: int
    email: str
    name: str
    token: str
    #: The import file's ``first_name`` column (``first name``, ``firstname``), when it had one.
    first_name: str = ""


#: The first name an import file may give, whatever it called the column (SQLite's form;
#: ``_CLAIM`` has PostgreSQL's).
_FIRST_NAME = (
    "COALESCE(json_extract(s.extra, '$.first_name'), json_extract(s.extra, '$.\"first name\"'),"
    " json_extract(s.extra, '$.firstname'), '')"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one copy. ``bounced`` marks the subscriber as never to be mailed again."""

    subscriber_id: int
    status: DeliveryStatus  # ``pending`` when released unsent
    reason: str = ""
    message_id: str = ""
    bounced: bool = False


def tune_for_sending(conn: Connection) -> None:
    """One ``fsync`` fewer per ledger write; see the module docstring for why that is safe.
    (PostgreSQL keeps its own ``synchronous_commit``: the server's durability is its admin's.)"""
    if not is_postgres(conn):
        conn.execute("PRAGMA synchronous = NORMAL")


def active_count(conn: Connection) -> int:
    return int(
        conn.execute("SELECT count(*) FROM subscribers WHERE status = 'active'").fetchone()[0]
    )


def prepare_resume(conn: Connection, key: str, *, path: Where) -> int:
    """Make an issue's leftover rows sendable again; call only while holding the send lock.

    ``deferred`` rows get their next try. ``sending`` rows were left by a sender that died
    between claiming and recording: whether that copy left is unknowable, so it goes again with
    the same Message-ID (receivers, and our sink in the tests, treat equal Message-IDs as one
    message). Returns how many rows were left ``sending``. On PostgreSQL only rows whose
    claiming session is gone count (see the module docstring): other senders may be at work.
    """
    with transaction(conn, path):
        interrupted = _release_orphans(conn, key)
        conn.execute(
            "UPDATE deliveries SET status = 'pending' WHERE issue_id = ? AND status = 'deferred'",
            (key,),
        )
    return interrupted


_ORPHANED = """UPDATE deliveries SET status = 'pending', claimed_by = '',
        last_error = 'interrupted; sent again with the same Message-ID'
    WHERE issue_id = ? AND status = 'sending' AND NOT EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.pid || ':' || extract(epoch FROM a.backend_start) = deliveries.claimed_by)"""


def _release_orphans(conn: Connection, key: str) -> int:
    """``sending`` rows whose sender is gone → ``pending`` (inside the caller's transaction)."""
    if is_postgres(conn):
        return int(conn.execute(_ORPHANED, (key,)).rowcount)
    cur = conn.execute(
        """UPDATE deliveries SET status = 'pending',
               last_error = 'interrupted; sent again with the same Message-ID'
           WHERE issue_id = ? AND status = 'sending'""",
        (key,),
    )
    return int(cur.rowcount)


def reopen_unknown(conn: Connection, key: str, *, path: Where) -> int:
    """On request only: make ``unknown`` copies pending again (same Message-ID on re-send)."""
    with transaction(conn, path):
        cur = conn.execute(
            """UPDATE deliveries SET status = 'pending',
                   last_error = 'was unknown; sent again on request with the same Message-ID'
               WHERE issue_id = ? AND status = 'unknown'""",
            (key,),
        )
        if cur.rowcount:
            conn.execute(
                "UPDATE issues SET status = 'sending', finished_at = NULL WHERE id = ?", (key,)
            )
    return cur.rowcount


def claim(
    conn: Connection, key: str, limit: int, *, path: Where
) -> tuple[list[Claimed], list[Outcome]]:
    """Claim up to ``limit`` pending rows (→ ``sending``) for this sender.

    Rows whose subscriber is no longer active (unsubscribed or bounced since the issue started)
    are marked ``skipped`` instead and returned as outcomes.
    """
    if is_postgres(conn):
        return _claim_shared(conn, key, limit, path=path)
    claimed: list[Claimed] = []
    skipped: list[Outcome] = []
    at = stamp()
    with transaction(conn, path):
        rows = conn.execute(
            f"""SELECT d.subscriber_id, s.email, s.name, s.token, s.status,
                      {_FIRST_NAME} AS first_name
               FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
               WHERE d.issue_id = ? AND d.status = 'pending' LIMIT ?""",  # noqa: S608 (fixed)
            (key, limit),
        ).fetchall()
        for row in rows:
            active = row["status"] == "active"
            cur = conn.execute(
                """UPDATE deliveries SET status = ?, updated_at = ?,
                       attempts = attempts + ?, last_error = ?
                   WHERE issue_id = ? AND subscriber_id = ? AND status = 'pending'""",
                (
                    "sending" if active else "skipped",
                    at,
                    1 if active else 0,
                    "" if active else f"subscriber is {row['status']}",
                    key,
                    row["subscriber_id"],
                ),
            )
            if cur.rowcount != 1:
                continue  # another sender got it first
            if active:
                first = str(row["first_name"] or "")
                claimed.append(
                    Claimed(row["subscriber_id"], row["email"], row["name"], row["token"], first)
                )
            else:
                skipped.append(
                    Outcome(row["subscriber_id"], "skipped", f"subscriber is {row['status']}")
                )
    return claimed, skipped


_CLAIM = """WITH picked AS (
        SELECT subscriber_id FROM deliveries WHERE issue_id = ? AND status = 'pending'
        ORDER BY subscriber_id LIMIT ? FOR UPDATE SKIP LOCKED)
    UPDATE deliveries d SET
        status = CASE WHEN s.status = 'active' THEN 'sending' ELSE 'skipped' END,
        attempts = d.attempts + CASE WHEN s.status = 'active' THEN 1 ELSE 0 END,
        last_error = CASE WHEN s.status = 'active' THEN '' ELSE 'subscriber is ' || s.status END,
        updated_at = ?, claimed_by = ?
    FROM picked, subscribers s
    WHERE d.issue_id = ? AND d.subscriber_id = picked.subscriber_id AND s.id = d.subscriber_id
    RETURNING d.subscriber_id, s.email, s.name, s.token, s.status,
        COALESCE(s.extra::jsonb ->> 'first_name', s.extra::jsonb ->> 'first name',
                 s.extra::jsonb ->> 'firstname', '') AS first_name"""


def _claim_shared(
    conn: Connection, key: str, limit: int, *, path: Where
) -> tuple[list[Claimed], list[Outcome]]:
    """PostgreSQL's claim, shared by any number of senders (see the module docstring): one
    statement, committed on its own. When no pending row is left, rows a dead sender had
    claimed are released first and claimed in their turn."""
    args = (key, limit, stamp(), getattr(conn, "session", ""), key)
    rows = conn.execute(_CLAIM, args).fetchall()
    if not rows:
        with transaction(conn, path):
            released = _release_orphans(conn, key)
        if released:
            rows = conn.execute(_CLAIM, args).fetchall()
    claimed = [
        Claimed(r["subscriber_id"], r["email"], r["name"], r["token"], str(r["first_name"] or ""))
        for r in rows
        if r["status"] == "active"
    ]
    skipped = [
        Outcome(r["subscriber_id"], "skipped", f"subscriber is {r['status']}")
        for r in rows
        if r["status"] != "active"
    ]
    return claimed, skipped


def subscriber_status(conn: Connection, subscriber_id: int) -> str:
    """The subscriber's status right now (checked just before each message leaves)."""
    row = conn.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    return str(row[0]) if row else "removed"


def record_outcomes(
    conn: Connection, key: str, outcomes: Iterable[Outcome], *, path: Where
) -> None:
    """Record what happened to each copy, in one transaction.

    The delivery loop calls it with a batch of outcomes (``deliver.loop.COMMIT_EVERY``, or
    what came back within ``COMMIT_AFTER`` seconds): one commit for the batch, not one per
    copy. Until it commits, those rows stay ``sending`` — the documented crash window.
    """
    at = stamp()
    batch = list(outcomes)
    with transaction(conn, path):
        conn.executemany(
            """UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?,
                   message_id = CASE WHEN ? != '' THEN ? ELSE message_id END
               WHERE issue_id = ? AND subscriber_id = ?""",
            [(o.status, o.reason[:500], at, o.message_id, o.message_id, key, o.subscriber_id)
             for o in batch],
        )  # fmt: skip
        conn.executemany(
            """UPDATE subscribers SET status = 'bounced', updated_at = ?
               WHERE id = ? AND status = 'active'""",
            [(at, o.subscriber_id) for o in batch if o.bounced],
        )


def counts(conn: Connection, key: str) -> dict[str, int]:
    found: dict[str, int] = dict.fromkeys(DELIVERY_ORDER, 0)
    for row in conn.execute(
        "SELECT status, count(*) FROM deliveries WHERE issue_id = ? GROUP BY status", (key,)
    ):
        found[row[0]] = row[1]
    return found


def recipients(conn: Connection, key: str | None) -> Iterable[Any]:
    """Who a send would reach: the issue's unsent rows, or every active subscriber if no issue.

    Streams from SQLite, for ``digest send --dry-run``.
    """
    if key is None:
        return conn.execute(
            "SELECT id, email, name, 'pending' AS status FROM subscribers "
            "WHERE status = 'active' ORDER BY id"
        )
    return conn.execute(
        """SELECT s.id, s.email, s.name, d.status FROM deliveries d
           JOIN subscribers s ON s.id = d.subscriber_id
           WHERE d.issue_id = ? AND d.status IN ('pending', 'sending', 'deferred')
             AND s.status = 'active' ORDER BY s.id""",
        (key,),
    )
