"""Addresses erased at their owner's request, remembered only as keyed hashes.

An erased address must never come back through an import, yet keeping it in clear would undo
the erasure. The ``erased`` table holds HMAC-SHA256(identity, address): the key is this state
file's random ``identity`` (the ``meta`` table), so the hashes can't be matched against a list
of addresses without the file itself, and two publications' hashes never line up.
"""

from __future__ import annotations

import hashlib
import hmac

from digest.state.db import Connection


def identity(conn: Connection) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
    return bytes.fromhex(row[0])


def address_hash(conn: Connection, email: str) -> str:
    key = identity(conn)
    return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def erased_at(conn: Connection, email: str) -> str | None:
    """When ``email`` was erased, or ``None``."""
    row = conn.execute(
        "SELECT erased_at FROM erased WHERE hash = ?", (address_hash(conn, email),)
    ).fetchone()
    return None if row is None else str(row[0])


def remember(conn: Connection, email: str, now: str) -> None:
    """Inside the caller's transaction."""
    conn.execute(
        "INSERT INTO erased (hash, erased_at) VALUES (?, ?) "
        "ON CONFLICT (hash) DO UPDATE SET erased_at = excluded.erased_at",
        (address_hash(conn, email), now),
    )


def forget(conn: Connection, email: str) -> None:
    """The owner signed up again and confirmed: the address may be imported again."""
    conn.execute("DELETE FROM erased WHERE hash = ?", (address_hash(conn, email),))
