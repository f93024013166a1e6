"""The state database: one SQLite file (``state:`` in config) holding everything digest
remembers — or, for a publication that outgrows one host, a PostgreSQL database
(``state: postgresql://…``, ``state.pg``; see docs/scaling.md).

Tables (each has one owner module in ``state/``; no SQL is written outside this package):

- ``subscribers``   the publication's list; ``status`` pending / active / unsubscribed /
                    bounced / complained / erased (schema 3); ``token`` is the unguessable
                    per-subscriber unsubscribe token.
                    Owner: ``state.subscribers``.
- ``issues``        one row per period key (``2026-W48``): the ledger's unit. Holds the rendered,
                    non-personal HTML/text for the web archive and the review ids it carried.
                    Owner: ``state.ledger``, as of ``issue_reviews``.
- ``deliveries``    one row per (issue, subscriber), written *before* a send (``sending``) and
                    *after* it (``sent`` / ``deferred`` / ``failed`` / ``unknown``).
                    Owner: ``state.deliveries``.
- ``issue_reviews`` which issue carried each review: a review appears in exactly one issue.
- ``http_cache``    ETag / Last-Modified and last body per fetched URL (conditional GET).
                    Owner: ``state.http_cache``.
- ``runs``          one row per scheduled or manual run, for ``digest history``.
                    Owner: ``state.runs``.
- ``meta``          facts about the state file itself, ``key`` → ``value`` (schema 2);
                    ``identity`` (schema 3) is the key of the ``erased`` hashes.
- ``events``        a subscriber's history: sign-up, confirmation, bounces, complaints, each
                    with its evidence (schema 3). Owner: ``state.events``.
- ``erased``        keyed hashes of erased addresses: no import brings one back (schema 3).
                    Owner: ``state.erased``.
- ``approvals``     an issue prepared for an editor's approval: its proofed rendering, the hash
                    of its single-use approve link, proofed / approved / held (schema 4); the
                    links' signing key is ``meta`` ``approve_key``. Owner: ``state.approvals``.

``SCHEMA`` below is schema 1, as the first release made it; it is never edited. Every change
since is a numbered step in ``migrations.py`` (``issues.nonce`` and ``meta`` came with schema
2), and ``connect`` runs the missing ones when it opens an older file, after copying it to
``<name>.v<old>.bak``.

Both backends meet the state modules through ``Connection``: ``sqlite3.Connection`` itself (no
wrapper on the default path) or ``pg.PgConnection``, which takes the same SQL. ``connect`` picks
one from ``state:``; ``transaction`` opens a write on either. A PostgreSQL database gets the
current schema on first use (``pgschema``).

Fail closed: any error opening or writing the file (or the server) is a ``StateError`` naming
it, and callers send nothing when they can't record intent.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from digest.config.target import PostgresState
from digest.config.usable import folder_problem
from digest.errors import StateError
from digest.state import migrations, pg, pgschema
from digest.state.migrations import SCHEMA_VERSION as SCHEMA_VERSION

if TYPE_CHECKING:
    from digest.config import Config

#: Where the state is: a SQLite file or a PostgreSQL database (``config.state``).
Target = Path | PostgresState
#: What error messages name: the target, or a plain string.
Where = Path | str | PostgresState


class Cursor(Protocol):
    """The part of a DB-API cursor the state modules use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """A state connection: ``sqlite3.Connection`` or ``pg.PgConnection``."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


def is_postgres(conn: Connection | Target) -> bool:
    """Whether ``conn`` (or a ``state:`` value) is the PostgreSQL backend."""
    return isinstance(conn, pg.PgConnection | PostgresState)


#: Seconds a connection waits for another process's write lock before giving up with a
#: ``StateError`` ("database is locked"). A send holds the lock for moments at a time, so the
#: wait only runs out when something else keeps the file locked. Read at each ``connect``.
BUSY_TIMEOUT = 30.0

#: Schema 1, the baseline every state file starts from (see ``migrations.py``).
SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name        TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    token       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS issues (
    id            TEXT PRIMARY KEY,
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('sending', 'done', 'empty')),
    subject       TEXT NOT NULL DEFAULT '',
    preheader     TEXT NOT NULL DEFAULT '',
    markers       TEXT NOT NULL DEFAULT '{}',
    html          TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL DEFAULT '',
    review_count  INTEGER NOT NULL DEFAULT 0,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    issue_id       TEXT NOT NULL REFERENCES issues(id),
    subscriber_id  INTEGER NOT NULL REFERENCES subscribers(id),
    email          TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'sending', 'sent', 'deferred', 'failed',
                                     'unknown', 'skipped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    message_id     TEXT NOT NULL DEFAULT '',
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (issue_id, subscriber_id)
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (issue_id, status);
CREATE TABLE IF NOT EXISTS issue_reviews (
    review_id  TEXT PRIMARY KEY,
    issue_id   TEXT NOT NULL REFERENCES issues(id),
    title      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS http_cache (
    url            TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    body           BLOB,
    fetched_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id           INTEGER PRIMARY KEY,
    issue_id     TEXT,
    trigger      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    outcome      TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT ''
);
"""


def stamp(now: datetime | None = None) -> str:
    """A timestamp as the ledger stores it: UTC, ISO 8601, to the second."""
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def connect(path: Target, *, create: bool = True) -> Connection:
    """Open the state database, creating the file and schema if needed, and upgrading the
    schema of a file an older digest wrote (``migrations.upgrade``); a ``postgresql://``
    state opens a session to the server and creates or upgrades its schema (``pgschema``).

    WAL mode lets the web service read while a send writes; ``busy_timeout`` makes a second
    writer wait instead of failing at once. Autocommit mode: callers open transactions with
    ``transaction(conn)`` so each ledger write is durable before the next step.
    """
    if isinstance(path, PostgresState):
        return _connect_pg(path, create=create)
    return _connect_sqlite(path, create=create)


def _connect_pg(target: PostgresState, *, create: bool) -> pg.PgConnection:
    conn = pg.connect(target)
    try:
        pgschema.ensure(conn, create=create)
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_sqlite(path: Path, *, create: bool) -> sqlite3.Connection:
    shown = str(path)
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise StateError(
                shown, "no state database yet; run `digest send` or `digest subscribers add` first"
            )
        wait = BUSY_TIMEOUT
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as e:
        raise StateError(shown, f"can't use the state database ({e}); {_hint(e)}") from e
    except OSError as e:
        raise StateError(shown, f"can't create the state database ({e.strerror})") from e
    try:
        migrations.upgrade(conn, path, baseline=SCHEMA)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise StateError(shown, f"can't use the state database ({e}); {_hint(e)}") from e
    except BaseException:
        conn.close()
        raise
    return conn


def state_exists(target: Target) -> bool:
    """Whether there is a state to look at (for a look that must not create one)."""
    if isinstance(target, Path):
        return target.exists()
    conn = pg.connect(target)
    try:
        return pgschema.version(conn) > 0
    finally:
        conn.close()


def state_problem(path: Target) -> str | None:
    """Why the state database at ``path`` can't be used, or ``None`` (for ``digest check``).

    An existing file is opened read-only and its schema read; a missing one needs a folder
    it can be created in; a PostgreSQL server is connected to and its schema version read.
    Nothing is written.
    """
    if isinstance(path, PostgresState):
        return _pg_problem(path)
    if path.is_dir():
        return f"{path} is a folder, not a state database"
    if not path.exists():
        return folder_problem(path.parent)
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return f"can't use the state database ({e}); {_hint(e)}"
    if version > SCHEMA_VERSION:
        return f"written by a newer digest (schema {version}); upgrade digest"
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        return f"{path} or its folder is not writable"
    return None


def _pg_problem(target: PostgresState) -> str | None:
    try:
        conn = pg.connect(target)
        try:
            found = pgschema.version(conn)
        finally:
            conn.close()
    except StateError as e:
        return e.reason
    if found > SCHEMA_VERSION:
        return f"written by a newer digest (schema {found}); upgrade digest"
    return None


def open_for(config: Config, *, create: bool = True) -> Connection:
    """``connect`` to ``config.state`` for this config's newsletter — the one door every command
    uses. The file remembers the newsletter it belongs to (``meta`` key ``newsletter``: the
    From address and ``base_url``, written on first use); another newsletter's config is
    refused with a ``StateError``, before it can mix two lists or send one's issues twice."""
    news = config.newsletter
    mine = {"from": news.from_, "base_url": news.base_url}
    conn = connect(config.state, create=create)
    try:
        theirs = _owner(conn, config.state, mine)
    except BaseException:
        conn.close()
        raise
    if not _same_newsletter(theirs, mine):
        conn.close()
        raise StateError(
            str(config.state),
            f'belongs to "{theirs.get("from", "?")}" ({theirs.get("base_url", "?")}), not to '
            f'"{news.from_}" ({news.base_url}): give this config its own state: path',
        )
    return conn


def _owner(conn: Connection, path: Target, mine: dict[str, str]) -> dict[str, str]:
    """The newsletter the file belongs to; a file without one becomes ``mine``'s."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'newsletter'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StateError(str(path), f"can't read ({e}); {_hint(e)}") from e
    if row is not None:
        return dict(json.loads(row[0]))
    with transaction(conn, path):
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('newsletter', ?) ON CONFLICT DO NOTHING",
            (json.dumps(mine, ensure_ascii=False),),
        )
        row = conn.execute("SELECT value FROM meta WHERE key = 'newsletter'").fetchone()
    return dict(json.loads(row[0]))


def _same_newsletter(theirs: dict[str, str], mine: dict[str, str]) -> bool:
    """The same sender address (its display name may change) and the same ``base_url``."""
    address = parseaddr(theirs.get("from", ""))[1].lower()
    same_url = theirs.get("base_url") == mine["base_url"]
    return same_url and address == parseaddr(mine["from"])[1].lower()


@contextmanager
def transaction(conn: Connection, path: Where = "") -> Iterator[Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any SQLite failure becomes a ``StateError``. On
    PostgreSQL ``BEGIN`` … ``COMMIT`` (read committed; the connection already turns every
    failure into a ``StateError`` naming the server)."""
    if isinstance(conn, pg.PgConnection):
        with _pg_transaction(conn):
            yield conn
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as e:
        raise _cant_write(path, e) from e
    try:
        yield conn
    except sqlite3.DatabaseError as e:
        _rollback(conn)
        raise _cant_write(path, e) from e
    except BaseException:
        _rollback(conn)
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        _rollback(conn)
        raise _cant_write(path, e) from e


@contextmanager
def _pg_transaction(conn: pg.PgConnection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        if not conn.broken and conn.in_transaction:
            with suppress(StateError):
                conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _cant_write(path: Where, error: sqlite3.DatabaseError) -> StateError:
    return StateError(str(path) or "state database", f"can't write ({error}); {_hint(error)}")


def _hint(error: sqlite3.DatabaseError) -> str:
    """The fix for a SQLite failure. Only a damaged file is worth moving aside: the ledger is
    what stops an issue going out twice, so a full disk or a read-only file must not be
    "fixed" by starting afresh."""
    reason = str(error)
    if "not a database" in reason or "malformed" in reason:
        return "check the file and the disk, or move it aside to start afresh"
    if "locked" in reason or "busy" in reason:
        return f"another process kept it locked for over {BUSY_TIMEOUT:g}s; try again later"
    return "check that the disk has free space and the file and its folder are writable"


def _rollback(conn: Connection) -> None:
    """Undo what is left of a failed transaction. SQLite has often rolled it back already (a
    full disk, an I/O error, a lock); a ``ROLLBACK`` then would raise "no transaction is
    active" and hide the real error, and a failing one has nothing more to tell."""
    if not conn.in_transaction:
        return
    with suppress(sqlite3.DatabaseError):
        conn.execute("ROLLBACK")
