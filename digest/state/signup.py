"""Double opt-in: a sign-up makes a ``pending`` subscriber and a confirmation link; only the
link's owner pressing "Confirm" makes them ``active``.

The link carries 32 random bytes; the database keeps only their SHA-256 (``confirm_hash``), so
a copy of the state file holds no working link. A link works once and until
``signup.confirm_within`` has passed. Pending sign-ups that were never confirmed are deleted
once their link has expired: an address nobody confirmed is not kept.

Whatever the address's standing, ``request`` answers in the same shape, so the web page can't
tell a visitor whether someone is on the list. Only an already ``active`` address, or one past
its limits, is sent nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from digest.state import erased, events
from digest.state.db import Connection, transaction
from digest.state.subscribers import clean_name, normalise_address

#: What a sign-up came to (the visitor sees the same page for each).
Requested = Literal["mail", "already-active", "throttled", "capped"]
#: What a confirmation link came to.
Confirmed = Literal["confirmed", "ready", "expired", "invalid"]
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class Request:
    outcome: Requested
    email: str
    name: str = ""
    #: The confirmation token for the link (only when ``outcome`` is ``mail``).
    token: str = ""


@dataclass(frozen=True, slots=True)
class Confirmation:
    outcome: Confirmed
    email: str = ""
    #: Only when ``outcome`` is ``confirmed`` (for the welcome mail): the subscriber's id,
    #: name and unsubscribe token.
    subscriber_id: int = 0
    name: str = ""
    token: str = ""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _stamp(when: datetime) -> str:
    """In UTC, always: the expiry is compared as text, so every stamp needs the same offset."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def request(
    conn: Connection, email: str, name: str, *, now: datetime, ip: str,
    within: timedelta, per_address: int, per_ip: int, per_hour: int = 100,
) -> Request:  # fmt: skip
    """A sign-up from the web form: a new confirmation link for ``email``, unless it is already
    active or over its limits. ``SubscriberError`` for an address that isn't one."""
    email = normalise_address(email)
    name = clean_name(name)
    purge_expired(conn, now=now)
    row = conn.execute("SELECT id, status FROM subscribers WHERE email = ?", (email,)).fetchone()
    if row is not None and row["status"] == "active":
        return Request("already-active", email)
    if events.count_since(conn, "signup", now - timedelta(hours=1), ip=ip) >= per_ip or (
        row is not None
        and events.count_since(conn, "signup", now - timedelta(days=1), subscriber_id=row["id"])
        >= per_address
    ):
        return Request("throttled", email)
    hour = now - timedelta(hours=1)
    capped = events.count_since(conn, "signup", hour, mailed=True) >= per_hour
    token = secrets.token_urlsafe(32)
    stamp, expires = _stamp(now), _stamp(now + within)
    with transaction(conn):
        if row is None:
            sid = conn.execute(  # RETURNING: both backends hand the new id back the same way
                """INSERT INTO subscribers (email, name, status, token, created_at, updated_at,
                                            confirm_hash, confirm_expires)
                   VALUES (?, ?, 'pending', ?, ?, ?, ?, ?) RETURNING id""",
                (email, name, secrets.token_urlsafe(32), stamp, stamp, _hash(token), expires),
            ).fetchone()[0]
        else:
            sid = int(row["id"])
        if row is not None and not capped:  # capped: an earlier link keeps working
            conn.execute(
                """UPDATE subscribers SET confirm_hash = ?, confirm_expires = ?, updated_at = ?,
                       name = CASE WHEN status = 'pending' AND ? != '' THEN ? ELSE name END
                   WHERE id = ?""",
                (_hash(token), expires, stamp, name, name, sid),
            )
        evidence: dict[str, object] = {"ip": ip, **({"capped": True} if capped else {})}
        detail = "web form; over signup.per_hour, no mail sent" if capped else "web form"
        events.record(conn, sid, "signup", at=now, detail=detail, evidence=evidence)
    return Request("capped", email) if capped else Request("mail", email, name, token)


def _find(conn: Connection, token: str) -> Any:
    if not 20 <= len(token) <= 100 or not set(token) <= _TOKEN_CHARS:
        return None
    row: Any = conn.execute(
        "SELECT id, email, name, token, confirm_expires FROM subscribers WHERE confirm_hash = ?",
        (_hash(token),),
    ).fetchone()
    return row


def check(conn: Connection, token: str, *, now: datetime) -> Confirmation:
    """What the link would do, changing nothing (a link scanner's GET)."""
    row = _find(conn, token)
    if row is None:
        return Confirmation("invalid")
    if row["confirm_expires"] <= _stamp(now):
        return Confirmation("expired", row["email"])
    return Confirmation("ready", row["email"])


def confirm(conn: Connection, token: str, *, now: datetime) -> Confirmation:
    """The owner pressed "Confirm": the address becomes active, whatever it was before (they
    asked to come back), its bounce count starts again and the link stops working. Only this
    one call per link answers ``confirmed`` (the row is claimed in the same transaction), so
    whatever follows a confirmation — the welcome mail — happens once."""
    with transaction(conn):
        row = _find(conn, token)
        if row is None:
            return Confirmation("invalid")
        if row["confirm_expires"] <= _stamp(now):
            return Confirmation("expired", row["email"])
        conn.execute(
            """UPDATE subscribers SET status = 'active', confirm_hash = NULL,
                   confirm_expires = NULL, confirmed_at = ?, soft_bounces = 0, updated_at = ?
               WHERE id = ?""",
            (_stamp(now), _stamp(now), row["id"]),
        )
        erased.forget(conn, row["email"])
        events.record(conn, row["id"], "confirmed", at=now, detail="confirmation link")
    return Confirmation("confirmed", row["email"], row["id"], row["name"], row["token"])


def purge_expired(conn: Connection, *, now: datetime) -> int:
    """Delete pending sign-ups whose link has expired (with their events); how many.

    Called with every sign-up, at every start of ``digest serve`` and at the start of every
    run (``digest run``, ``digest send``, each scheduled firing), so an address nobody
    confirmed is gone soon after its link expires without anyone asking. Nothing to delete
    writes nothing (a read-only state file can still serve the archive)."""
    stale = (
        "SELECT id FROM subscribers WHERE status = 'pending' AND confirm_expires <= ? "
        "AND id NOT IN (SELECT subscriber_id FROM deliveries)"
    )
    args = (_stamp(now),)
    if conn.execute(f"SELECT count(*) FROM ({stale}) AS s", args).fetchone()[0] == 0:  # noqa: S608
        return 0
    with transaction(conn):
        conn.execute(f"DELETE FROM events WHERE subscriber_id IN ({stale})", args)  # noqa: S608
        cur = conn.execute(f"DELETE FROM subscribers WHERE id IN ({stale})", args)  # noqa: S608
    return cur.rowcount
