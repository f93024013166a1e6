"""The state database and the subscriber list, on a real SQLite file and a real PostgreSQL
database (the ``conn`` tests run once on each)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.errors import StateError, SubscriberError
from digest.state import db, subscribers


@pytest.fixture
def conn(state: db.Target) -> Iterator[db.Connection]:
    conn = db.connect(state)
    yield conn
    conn.close()


def test_connect_creates_the_file_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "digest.sqlite3"
    conn = db.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"subscribers", "issues", "deliveries", "issue_reviews", "http_cache", "runs"} <= tables
    assert path.exists()
    conn.close()
    # Opening again keeps the data and does not fail on the existing schema.
    again = db.connect(path)
    assert again.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION


def test_a_corrupt_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StateError) as caught:
        db.connect(path)
    assert str(path) in str(caught.value)


def test_a_read_only_database_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    db.connect(path).close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(StateError), db.transaction(ro, path):
        ro.execute("INSERT INTO runs (trigger, started_at) VALUES ('x', 'y')")


def test_add_validates_and_normalises(conn: db.Connection) -> None:
    sub = subscribers.add(conn, "  Reader@Example.ORG ", name="Ada\r\nBcc: evil@example.net")
    assert sub.email == "Reader@example.org"
    assert "\n" not in sub.name and "\r" not in sub.name
    assert len(sub.token) >= 40
    for bad in ("not-an-address", "a@b", "x@example.org\r\nBcc: y@example.org", ""):
        with pytest.raises(SubscriberError):
            subscribers.add(conn, bad)


def test_remove_then_add_resubscribes_with_the_same_token(conn: db.Connection) -> None:
    first = subscribers.add(conn, "reader@example.org")
    assert subscribers.remove(conn, "reader@example.org")
    assert subscribers.active(conn) == []
    again = subscribers.add(conn, "reader@example.org")
    assert again.status == "active" and again.token == first.token


def test_unsubscribe_by_token_is_idempotent_and_ignores_unknown_tokens(
    conn: db.Connection,
) -> None:
    sub = subscribers.add(conn, "reader@example.org")
    other = subscribers.add(conn, "other@example.org")
    tampered = sub.token[:-1] + ("B" if sub.token.endswith("A") else "A")
    assert subscribers.unsubscribe_by_token(conn, tampered) is None
    assert subscribers.unsubscribe_by_token(conn, "forged") is None
    assert subscribers.unsubscribe_by_token(conn, "") is None
    assert {s.email for s in subscribers.active(conn)} == {sub.email, other.email}
    assert subscribers.unsubscribe_by_token(conn, sub.token) is not None
    assert subscribers.unsubscribe_by_token(conn, sub.token) is not None
    assert [s.email for s in subscribers.active(conn)] == [other.email]


def test_import_csv_reports_bad_rows_and_keeps_extra_columns(
    conn: db.Connection, tmp_path: Path
) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "\ufeffEmail,Name,City\n"
        "one@example.org,One,Leeds\n"
        "broken-address,Two,York\n"
        "three@example.org,,\n"
        "ONE@example.org,Duplicate,Hull\n",
        encoding="utf-8",
    )
    result = subscribers.import_csv(conn, csv_file)
    assert result.added == 2
    assert len(result.invalid) == 1 and "line 3" in result.invalid[0]
    one = subscribers.get(conn, "one@example.org")
    assert one is not None and one.name == "One" and '"city": "Leeds"' in one.extra


def test_import_never_resubscribes_an_unsubscribed_address(
    conn: db.Connection, tmp_path: Path
) -> None:
    subscribers.add(conn, "gone@example.org")
    subscribers.remove(conn, "gone@example.org")
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email\ngone@example.org\n", encoding="utf-8")
    assert subscribers.import_csv(conn, csv_file).added == 0
    assert subscribers.active(conn) == []


def test_import_without_an_email_header_is_refused(conn: db.Connection, tmp_path: Path) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("a@example.org,Ann\n", encoding="utf-8")
    with pytest.raises(SubscriberError, match="header"):
        subscribers.import_csv(conn, csv_file)
