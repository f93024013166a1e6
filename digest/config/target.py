"""Where the state lives: a SQLite file (the default) or a PostgreSQL database.

``state:`` is a path (``state/digest.sqlite3``, relative to the config file's folder) or a
``postgresql://user@host:port/dbname`` URL (``postgres://`` too; libpq query parameters such as
``?sslmode=verify-full`` pass through). Anything else that looks like a URL — a typo'd scheme,
``sqlite:///…``, ``mysql://…`` — is refused with the key and the fix, instead of becoming a
folder named after the scheme.

The password never comes from ``config.yaml``: a URL with one is refused. ``state_password_env``
names the environment variable that holds it; without it libpq's own ``PGPASSWORD``,
``~/.pgpass`` or ``PGSERVICE`` apply, as for ``psql``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.config.base import Model

#: Schemes that mean PostgreSQL (what libpq itself accepts).
POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


class PostgresState(Model):
    """A PostgreSQL state: the URL (no password in it) and the variable holding the password."""

    url: str
    password_env: str | None = None

    def __str__(self) -> str:
        return self.shown

    @property
    def shown(self) -> str:
        """The server and database, for messages: ``postgresql://digest@db:5432/digest``."""
        return self.url.split("?", 1)[0]


def parse_state(value: Any) -> Any:
    """``state:`` as the file gives it → a ``Path`` or a ``PostgresState`` (pydantic "before")."""
    if isinstance(value, dict):
        raise ValueError("give a file path or a postgresql://user@host:5432/dbname URL")
    if not isinstance(value, str):
        return value
    found = _URL_LIKE.match(value.strip())
    if found is None:
        return value
    scheme = found.group(1).lower()
    if scheme not in POSTGRES_SCHEMES:
        if "://" not in value:
            return value  # a file name with a colon in it
        raise ValueError(
            f"{scheme}:// is not a state digest can use; give a file path "
            "(state/digest.sqlite3) or a postgresql://user@host:5432/dbname URL"
        )
    parts = urlsplit(value.strip())
    if not value.strip().lower().startswith(f"{scheme}://"):
        raise ValueError(f"expected {scheme}://user@host:5432/dbname, got {value!r}")
    try:
        has_password = parts.password is not None
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as e:
        raise ValueError(f"{e}; expected postgresql://user@host:5432/dbname") from None
    if has_password:
        raise ValueError(
            "the URL holds a password; secrets never go in config.yaml: remove it and name "
            "the environment variable that holds it with state_password_env: DIGEST_PG_PASSWORD"
            " (or use PGPASSWORD / ~/.pgpass)"
        )
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ValueError(f"name the database: postgresql://user@host:5432/dbname, got {value!r}")
    return PostgresState(url=value.strip())


def is_postgres(state: Path | PostgresState) -> bool:
    return isinstance(state, PostgresState)
