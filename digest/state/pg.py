"""The PostgreSQL state: psycopg 3 behind the few methods the state modules call on sqlite3.

``PgConnection`` takes the same SQL the SQLite path runs — ``?`` placeholders become ``%s`` here,
in one place — and hands back rows readable by position and by column name, like
``sqlite3.Row``. The state modules write portable SQL (``ON CONFLICT``, ``RETURNING``); where
the two dialects truly differ (a JSON field, the claim with ``FOR UPDATE SKIP LOCKED``) the
owner module asks ``db.is_postgres`` and says why.

Fail closed, as on SQLite: any database error becomes a ``StateError`` naming the server (the
URL without any password — there never is one in config) and the fix, so nothing is sent when
intent can't be recorded. The connection is in autocommit mode; ``db.transaction`` brackets each
ledger write with ``BEGIN`` … ``COMMIT``.

Dead peers: libpq keepalives on the client, and ``tcp_keepalives_*`` asked of the server for
this session, so a host that vanishes without closing its connection is noticed in about
``KEEPALIVE_BOUND`` seconds on both sides — which is what frees a dead scheduler's leadership
(``state.locks``) and its claimed rows (``state.deliveries``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from digest.config.target import PostgresState
from digest.errors import StateError

#: Keepalive settings (seconds): idle before the first probe, between probes, probes.
KEEPALIVE = (10, 5, 3)
#: How long a vanished peer can go unnoticed: idle + interval × count.
KEEPALIVE_BOUND = KEEPALIVE[0] + KEEPALIVE[1] * KEEPALIVE[2]
#: Seconds to wait for the server to answer a connection attempt.
CONNECT_TIMEOUT = 10


class Row:
    """One result row: ``row[0]``, ``row["email"]``, ``dict(row)`` — what sqlite3.Row offers."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]):
        self._names, self._values = names, values

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._names[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return tuple(self._values) == (tuple(other) if isinstance(other, Row | tuple) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


_translated: dict[str, str] = {}


def translate(sql: str) -> str:
    """``?`` → ``%s`` (and a literal ``%`` → ``%%``); no SQL of ours has ``?`` in a string."""
    found = _translated.get(sql)
    if found is None:
        found = _translated[sql] = sql.replace("%", "%%").replace("?", "%s")
    return found


class PgConnection:
    """A psycopg connection speaking the state modules' subset of the sqlite3 API."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], target: PostgresState):
        self.raw, self.target = raw, target
        row = self.execute(
            "SELECT pid || ':' || extract(epoch FROM backend_start) FROM pg_stat_activity "
            "WHERE pid = pg_backend_pid()"
        ).fetchone()
        #: This session's name in ``deliveries.claimed_by``: its server pid and start time,
        #: unique while it lives, and gone from ``pg_stat_activity`` once it has ended.
        self.session = str(row[0]) if row else ""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        try:
            return self.raw.execute(translate(sql), parameters)
        except psycopg.Error as e:
            raise database_error(self.target, e) from e

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        try:
            cur.executemany(translate(sql), rows)
        except psycopg.Error as e:
            raise database_error(self.target, e) from e
        return cur

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self.raw.broken or self.raw.closed

    def close(self) -> None:
        self.raw.close()

    def __del__(self) -> None:
        # Like sqlite3: a connection nobody closed is closed when it is dropped (psycopg
        # would otherwise warn about it), and the server ends its session.
        with suppress(Exception):
            self.raw.close()


def connect(target: PostgresState) -> PgConnection:
    """One session to the server ``target`` names, or a ``StateError`` with the fix."""
    extra: dict[str, Any] = {}
    if target.password_env:
        password = os.environ.get(target.password_env)
        if password is None:
            raise StateError(
                target.shown,
                f"state_password_env: environment variable {target.password_env} is not set; "
                "export it with the PostgreSQL password (secrets never go in config.yaml)",
            )
        extra["password"] = password
    try:
        given = conninfo_to_dict(target.url)
    except psycopg.ProgrammingError as e:
        raise StateError(target.shown, f"can't read the URL ({e}); fix state:") from e
    idle, interval, count = KEEPALIVE
    defaults = {
        "connect_timeout": CONNECT_TIMEOUT, "application_name": "digest", "keepalives": 1,
        "keepalives_idle": idle, "keepalives_interval": interval, "keepalives_count": count,
        "tcp_user_timeout": KEEPALIVE_BOUND * 1000,
        "options": f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
                   f"-c tcp_keepalives_count={count}",
    }  # fmt: skip
    extra.update({k: v for k, v in defaults.items() if k not in given})
    try:
        raw = psycopg.connect(
            make_conninfo(target.url, **extra), autocommit=True, row_factory=_row_factory
        )
    except psycopg.Error as e:
        raise database_error(target, e) from e
    return PgConnection(raw, target)


def database_error(target: PostgresState, error: psycopg.Error) -> StateError:
    """A ``StateError`` naming the server, the reason and the fix (never a password)."""
    # libpq writes one sentence a line ("Connection refused\n\tIs the server running …").
    lines = (" ".join(line.split()) for line in str(error).splitlines())
    reason = "; ".join(line for line in lines if line) or type(error).__name__
    return StateError(target.shown, f"can't use the state database ({reason}); {_hint(error)}")


_AUTH = (psycopg.errors.InvalidPassword, psycopg.errors.InvalidAuthorizationSpecification)


def _hint(error: psycopg.Error) -> str:
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return "grant the role in state: the rights on that database (or make it its owner)"
    if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
        return "the database only allows reads (a standby?): point state: at the primary server"
    if isinstance(error, psycopg.errors.InvalidCatalogName):
        return "create the database first (createdb), or fix the name in state:"
    if isinstance(error, _AUTH):
        return "check the role in state: and the password in the variable state_password_env names"
    if isinstance(error, psycopg.OperationalError):
        return "check that the server is running and that state: names the right host and port"
    return "nothing was sent from this step; try again, and report the error if it repeats"
