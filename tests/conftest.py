"""Shared pytest set-up: a clean environment for digest's variables, and the loopback servers
most tests talk to (each started for one test and stopped after it) — and one PostgreSQL
server for the whole session, with a fresh database per test that asks for one.

``state`` runs a test once per backend: a SQLite file, then a PostgreSQL database (the
``state:`` value a config gives is ``state_value``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http import ScriptedServer, serving
from support.imap import DOVECOT, Dovecot
from support.postgres import Postgres, binaries, missing
from support.smtp import Sink

from digest.config.target import PostgresState


@pytest.fixture(autouse=True)
def _clean_digest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DIGEST_CONFIG or DIGEST_SECRET must never leak into a test.
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "SMTP_PASSWORD", "PGPASSWORD", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on loopback (feeds, WordPress, hostile answers)."""
    with serving() as s:
        yield s


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""
    with Sink() as s:
        yield s


@pytest.fixture(scope="session")
def _dovecot_server() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip(f"{DOVECOT} is not installed (.ci/run installs Debian's dovecot-imapd)")
    with Dovecot() as d:
        yield d


@pytest.fixture
def dovecot(_dovecot_server: Dovecot) -> Iterator[Dovecot]:
    """Debian's dovecot on loopback (one per test session), its mailbox empty for each test."""
    _dovecot_server.reset()
    yield _dovecot_server


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[Postgres]:
    bindir = binaries()
    if bindir is None:
        missing("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    assert bindir is not None
    server = Postgres(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(_postgres_server: Postgres) -> str:
    """A new, empty database on the session's PostgreSQL server: its URL."""
    return _postgres_server.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def state_value(backend: str, request: pytest.FixtureRequest) -> str:
    """What a config's ``state:`` says for this backend (a relative file, or a URL)."""
    if backend == "sqlite":
        return "state/digest.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def state(state_value: str, tmp_path: Path) -> Path | PostgresState:
    """The state target itself, as ``config.state`` holds it, for this backend."""
    if state_value.startswith("postgresql://"):
        return PostgresState(url=state_value)
    return tmp_path / state_value
