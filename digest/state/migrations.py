"""Numbered schema changes, run by ``db.connect`` on a state file from an earlier release.

``MIGRATIONS[n]`` takes the schema from version ``n - 1`` to ``n`` (``PRAGMA user_version``).
Every pending step runs in ONE transaction, after a backup copy of the file is written beside
it (``<state>.v<old>.bak``): either the file is wholly on the new schema or it is untouched.

Changing a ``CHECK`` constraint follows SQLite's rebuild recipe (create the new table, copy,
drop, rename). Foreign keys are switched off around the transaction — a ``DROP TABLE`` with
them on would empty the child tables — and ``PRAGMA foreign_key_check`` must come back clean
before the commit.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from digest.errors import StateError


@dataclass(frozen=True, slots=True)
class Step:
    statements: tuple[str, ...]


def sql(*statements: str) -> Step:
    return Step(tuple(statements))


_SUBSCRIBERS_V2 = """
CREATE TABLE subscribers_new (
    id               INTEGER PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name             TEXT NOT NULL DEFAULT '',
    extra            TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced',
                                       'complained', 'erased')),
    token            TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    soft_bounces     INTEGER NOT NULL DEFAULT 0,
    confirm_hash     TEXT UNIQUE,
    confirm_expires  TEXT,
    confirmed_at     TEXT
)"""

MIGRATIONS: dict[int, Step] = {
    # Sign-up, bounces, complaints, export and erasure (issue 16).
    2: sql(
        _SUBSCRIBERS_V2,
        """INSERT INTO subscribers_new (id, email, name, extra, status, token, created_at,
                                        updated_at)
           SELECT id, email, name, extra, status, token, created_at, updated_at
           FROM subscribers""",
        "DROP TABLE subscribers",
        "ALTER TABLE subscribers_new RENAME TO subscribers",
        """CREATE TABLE events (
               id             INTEGER PRIMARY KEY,
               subscriber_id  INTEGER NOT NULL REFERENCES subscribers(id),
               kind           TEXT NOT NULL
                              CHECK (kind IN ('signup', 'confirmed', 'soft-bounce', 'hard-bounce',
                                              'complaint', 'unsubscribed')),
               at             TEXT NOT NULL,
               detail         TEXT NOT NULL DEFAULT '',
               evidence       TEXT NOT NULL DEFAULT '{}',
               source         TEXT,
               UNIQUE (source, subscriber_id, kind)
           )""",
        "CREATE INDEX events_subscriber ON events (subscriber_id, at)",
        "CREATE TABLE erased (hash TEXT PRIMARY KEY, erased_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('identity', lower(hex(randomblob(32))))",
    ),
}

LATEST = max(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: Path, *, backup: bool) -> None:
    """Bring ``conn`` up to ``LATEST``; a backup copy first when the file held data."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    steps = [(n, MIGRATIONS[n]) for n in sorted(MIGRATIONS) if n > version]
    if not steps:
        return
    if backup:
        copy = sqlite3.connect(path.with_name(f"{path.name}.v{version}.bak"))
        try:
            conn.backup(copy)
        finally:
            copy.close()
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for number, step in steps:
                for statement in step.statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StateError(str(path), f"migration left {len(broken)} broken references")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
