"""Schema versions of the state file, and how an older file is brought up to date.

The file records its schema in SQLite's ``PRAGMA user_version``. Version 1 is the baseline:
``db.SCHEMA``, the tables as the first release made them — never edited again. Every later
version is one entry in ``MIGRATIONS``, its number mapped to the step that turns version
``n - 1`` into ``n``. A later issue that needs a column or a table appends the next number and
does nothing else::

    MIGRATIONS = {
        2: sql("ALTER TABLE issues ADD COLUMN nonce ...", "CREATE TABLE meta (...)"),
        3: sql("CREATE INDEX runs_started ON runs (started_at)"),   # ← the new line
    }

``SCHEMA_VERSION`` is the highest number, and a new file is made the same way an old one is
upgraded (the baseline, then every step), so a new file and an upgraded one can't drift apart.
A step is SQL statements (``sql(...)``) or a function of the connection, for changes that need
Python (filling a column row by row, say). It runs inside the upgrade's transaction, so it must
not commit, and must not call ``executescript`` (which commits first). SQLite's table-rebuild
recipe works as is: foreign keys are off during an upgrade and checked before it commits.

What ``upgrade`` (called by ``db.connect`` on every open) does with the file it finds:

- the current version: nothing (one ``PRAGMA`` read);
- a newer version: refused with one line ("written by a newer digest …; upgrade digest"),
  and the file is not touched;
- version 0 without tables: a new file — the baseline and every step;
- version 0 with tables: written before versioning, so it counts as version 1;
- an older version: under the write lock it copies the file with SQLite's backup API to
  ``<name>.v<old>.bak`` beside it, then runs every missing step and sets the new version in ONE
  transaction. Any failure rolls all of it back, leaving the file as it was, and the error says
  what to do. Two processes opening an old file at once are safe: the version is read again
  under the lock, so the second one finds the work done.

**PostgreSQL** (``state: postgresql://…``) starts at schema 3, written as PostgreSQL DDL in
``pgschema.PG_SCHEMA``, with its version in the ``meta`` table. Every migration from 4 on needs
both forms: its SQLite step here *and* its PostgreSQL statements in ``pgschema.PG_MIGRATIONS``
under the same number (``tests/state/test_postgres.py`` fails while one is missing).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from digest.errors import StateError

#: One migration: changes the schema of an open connection, inside the upgrade's transaction.
Step = Callable[[sqlite3.Connection], None]


def sql(*statements: str) -> Step:
    """A step made of SQL statements, run in order."""

    def run(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


#: The approvals table (schema 4), the same text on SQLite and PostgreSQL (``pgschema``);
#: part of step 4, so frozen like it: a later change is a new step.
APPROVALS_TABLE = """CREATE TABLE approvals (
           issue_id      TEXT PRIMARY KEY,
           status        TEXT NOT NULL CHECK (status IN ('proofed', 'approved', 'held')),
           period_start  TEXT NOT NULL,
           period_end    TEXT NOT NULL,
           subject       TEXT NOT NULL DEFAULT '',
           preheader     TEXT NOT NULL DEFAULT '',
           markers       TEXT NOT NULL DEFAULT '{}',
           html          TEXT NOT NULL DEFAULT '',
           text          TEXT NOT NULL DEFAULT '',
           reviews       TEXT NOT NULL DEFAULT '[]',
           token_hash    TEXT NOT NULL DEFAULT '',
           prepared_at   TEXT NOT NULL,
           approved_at   TEXT,
           approved_by   TEXT NOT NULL DEFAULT '',
           held_at       TEXT,
           due_at        TEXT
       )"""


MIGRATIONS: dict[int, Step] = {
    # A per-issue random value for Message-IDs (record_issue fills it for new issues; older
    # issues keep '' so a resume repeats their ids), and facts about the file itself.
    2: sql(
        "ALTER TABLE issues ADD COLUMN nonce TEXT NOT NULL DEFAULT ''",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # A subscriber's life (issue 16): pending sign-ups with a hashed confirmation token,
    # complained and erased statuses (the CHECK changes, so subscribers is rebuilt), counted
    # soft bounces, the events table with evidence, erased-address hashes and their key.
    3: sql(
        """CREATE TABLE subscribers_new (
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
           )""",
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
        "CREATE INDEX events_kind ON events (kind, at)",
        "CREATE TABLE erased (hash TEXT PRIMARY KEY, erased_at TEXT NOT NULL)",
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('identity', lower(hex(randomblob(32))))",
    ),
    # The editor's week (issue 17): an issue prepared for approval, its rendering stored as it
    # was proofed (and frozen once approved), with the hash of its single-use approve link.
    # The links are signed with a random key kept in meta ('approve_key'), made here.
    4: lambda conn: _approvals(conn),
}


def _approvals(conn: sqlite3.Connection) -> None:
    conn.execute(APPROVALS_TABLE)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('approve_key', ?) ON CONFLICT (key) DO NOTHING",
        (secrets.token_hex(32),),
    )


SCHEMA_VERSION = max(MIGRATIONS)


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a version-``version`` file goes before it is upgraded."""
    return path.with_name(f"{path.name}.v{version}.bak")


def upgrade(
    conn: sqlite3.Connection, path: Path, *, baseline: str, steps: Mapping[int, Step] = MIGRATIONS
) -> None:
    """Bring the file open on ``conn`` (autocommit mode) to the latest version in ``steps``."""
    latest = max(steps)
    if sorted(steps) != list(range(2, latest + 1)):
        raise ValueError(f"migrations must be numbered 2, 3, … without gaps: {sorted(steps)}")
    found = _version(conn)
    if found > latest:
        raise _newer(path, found)
    if found == latest:
        return
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, so set it first
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            _upgrade_locked(conn, path, baseline, steps, latest)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _upgrade_locked(
    conn: sqlite3.Connection, path: Path, baseline: str, steps: Mapping[int, Step], latest: int
) -> None:
    found = _version(conn)  # again, under the lock: another process may have upgraded it
    if found > latest:
        raise _newer(path, found)
    if found == latest:
        conn.execute("COMMIT")
        return
    old = found or (1 if _has_tables(conn) else 0)
    copy = _backup(path, old, latest) if old else None
    try:
        if found == 0:  # new, or made before versioning: the baseline only adds what's missing
            for statement in _statements(baseline):
                conn.execute(statement)
        for version in range(max(old, 1) + 1, latest + 1):
            steps[version](conn)
        broken = conn.execute("PRAGMA foreign_key_check").fetchone()
        if broken is not None:
            raise sqlite3.IntegrityError(f"a row in {broken[0]} refers to a missing {broken[2]}")
        conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        if not old:
            raise
        conn.execute("ROLLBACK")
        raise StateError(
            str(path),
            f"can't upgrade the state file from schema {old} to {latest} ({e}); it was left "
            f"as it was and nothing was sent; {_fix(e, copy)}",
        ) from e


def _backup(path: Path, version: int, latest: int) -> Path:
    """Copy the file as committed (this process holds the write lock, so nothing changes it
    meanwhile) through a second connection: SQLite's backup can't read through the connection
    that holds the lock. Written beside, then renamed, so a crash never leaves half a copy."""
    target = backup_path(path, version)
    partial = target.with_name(target.name + ".tmp")
    try:
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(path)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                copy.close()
        finally:
            source.close()
        os.replace(partial, target)
    except (OSError, sqlite3.DatabaseError) as e:
        partial.unlink(missing_ok=True)
        raise StateError(
            str(path),
            f"can't write the copy {target.name} kept before upgrading to schema {latest} "
            f"({e}); the file was left as it was; free disk space and make its folder "
            "writable, then run digest again",
        ) from e
    return target


def _fix(error: sqlite3.DatabaseError, copy: Path | None) -> str:
    reason = str(error)
    if "locked" in reason or "busy" in reason:
        return "another process kept the file locked; try again once it has finished"
    if "disk" in reason or "full" in reason or "readonly" in reason:
        return "free disk space and make the file and its folder writable, then run digest again"
    kept = f" ({copy.name} is a copy of it)" if copy else ""
    return f"keep using the previous digest release with this file{kept} and report this error"


def _newer(path: Path, version: int) -> StateError:
    return StateError(str(path), f"written by a newer digest (schema {version}); upgrade digest")


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone()
    return row is not None


def _statements(script: str) -> list[str]:
    """Split a script into statements, to run them inside a transaction one by one."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
