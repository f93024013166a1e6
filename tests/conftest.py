"""Shared pytest set-up: every test runs with a clean environment for digest's variables."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_digest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DIGEST_CONFIG or DIGEST_SECRET must never leak into a test.
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
