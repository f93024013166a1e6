"""Schema 3 (a subscriber's life) on a schema-1 file: subscribers, issues and deliveries kept
through the subscribers rebuild, foreign keys intact, a backup copy beside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digest.state import db, migrations, subscribers


def _schema_one(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(db.SCHEMA)
    conn.executescript(
        """INSERT INTO subscribers (email, name, status, token, created_at, updated_at) VALUES
             ('kept@example.net', 'Kept', 'active', 'tok-a', '2026-01-01', '2026-01-01'),
             ('left@example.net', '', 'unsubscribed', 'tok-b', '2026-01-01', '2026-01-02');
           INSERT INTO issues (id, period_start, period_end, status, created_at)
             VALUES ('2026-W01', '2026-01-01', '2026-01-08', 'done', '2026-01-08');
           INSERT INTO deliveries (issue_id, subscriber_id, email, status, updated_at)
             VALUES ('2026-W01', 1, 'kept@example.net', 'sent', '2026-01-08');
           PRAGMA user_version = 1;"""
    )
    conn.close()


def test_a_schema_one_file_is_migrated_in_place_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    _schema_one(path)
    conn = db.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    assert [(s.email, s.status) for s in subscribers.listing(conn)] == [
        ("kept@example.net", "active"), ("left@example.net", "unsubscribed"),
    ]  # fmt: skip
    assert conn.execute("SELECT status FROM deliveries").fetchone()[0] == "sent"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # The new statuses are allowed now.
    subscribers.set_status(conn, "left@example.net", "complained")
    conn.close()
    backup = sqlite3.connect(tmp_path / "digest.sqlite3.v1.bak")
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 2
    backup.close()
