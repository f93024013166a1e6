"""Shared pytest set-up: a clean environment for digest's variables, and the loopback servers
most tests talk to (each started for one test and stopped after it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http import ScriptedServer, serving
from support.imap import DOVECOT, Dovecot
from support.smtp import Sink


@pytest.fixture(autouse=True)
def _clean_digest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DIGEST_CONFIG or DIGEST_SECRET must never leak into a test.
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "SMTP_PASSWORD"):
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
