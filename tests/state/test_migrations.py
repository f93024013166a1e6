"""Schema migrations, on a state file the release before them really wrote (fixtures/v1)."""

from __future__ import annotations

import mailbox
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.scheduling import review_text

from digest.config import load_config
from digest.errors import StateError
from digest.pipeline.run import run_once
from digest.state import db, migrations

FIXTURE = Path(__file__).parent / "fixtures" / "v1"
BERLIN = ZoneInfo("Europe/Berlin")
OLD_TITLES = ("The Lantern Keeper", "Salt and Static", "Glass Orchard")
ACTIVE = ("ada.lumen@example.org", "bram.okafor@example.net", "chioma.reyes@example.org")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The fixture's site (config, reviews, schema-1 state) copied where it may change."""
    shutil.copytree(FIXTURE, tmp_path / "site")
    return tmp_path / "site"


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _version(path: Path) -> int:
    conn = _raw(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _dump(path: Path) -> list[str]:
    conn = _raw(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_the_fixture_is_schema_1_with_one_sent_issue(site: Path) -> None:
    state = site / "state" / "digest.sqlite3"
    assert _version(state) == 1
    conn = _raw(state)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(issues)")}
    assert "nonce" not in columns
    assert conn.execute("SELECT id, status FROM issues").fetchall() == [("2026-W46", "done")]
    conn.close()


def test_an_old_file_is_upgraded_in_place_after_a_backup(site: Path) -> None:
    state = site / "state" / "digest.sqlite3"
    before = _dump(state)
    conn = db.connect(state)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION == 4
    issue = conn.execute("SELECT id, status, nonce FROM issues").fetchall()
    assert [tuple(r) for r in issue] == [("2026-W46", "done", "")]  # old ids stay as they were
    # Schema 3 keys the erased-address hashes with a random identity of the file.
    # Schema 4 adds the approvals table and the random key that signs approve links.
    keys = sorted(r[0] for r in conn.execute("SELECT key FROM meta"))
    assert keys == ["approve_key", "identity"]
    assert conn.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0
    subs = {r["email"]: r["status"] for r in conn.execute("SELECT email, status FROM subscribers")}
    assert subs == {**dict.fromkeys(ACTIVE, "active"), "dmitri.vale@example.net": "unsubscribed"}
    sent = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
    assert sent == 3
    conn.close()

    copy = migrations.backup_path(state, 1)
    assert copy == site / "state" / "digest.sqlite3.v1.bak"
    assert _version(copy) == 1 and _dump(copy) == before
    # A second open is the fast path: nothing is copied or changed again.
    copy.unlink()
    db.connect(state).close()
    assert not copy.exists()


def test_a_file_from_before_versioning_counts_as_schema_1(site: Path) -> None:
    state = site / "state" / "digest.sqlite3"
    conn = _raw(state)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    db.connect(state).close()
    assert _version(state) == db.SCHEMA_VERSION
    assert migrations.backup_path(state, 1).exists()


def test_a_new_file_matches_an_upgraded_one(site: Path, tmp_path: Path) -> None:
    def schema(path: Path) -> set[tuple[str, str]]:
        conn = db.connect(path)
        try:
            rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
            return {(r[0], " ".join(r[1].replace("IF NOT EXISTS ", "").split())) for r in rows}
        finally:
            conn.close()

    assert schema(site / "state" / "digest.sqlite3") == schema(tmp_path / "new.sqlite3")
    assert not migrations.backup_path(tmp_path / "new.sqlite3", 0).exists()


def test_the_upgraded_file_sends_the_next_issue_and_not_the_last(site: Path) -> None:
    config = load_config(site / "config.yaml")
    titles = ("Northbound Freight", "Low Tide Radio")
    for day, title in zip((16, 17), titles, strict=True):
        when = datetime(2026, 11, day, 9, 0, tzinfo=BERLIN)
        slug = title.lower().replace(" ", "-")
        (site / "reviews" / f"{slug}.txt").write_text(review_text(title, when), encoding="utf-8")

    result = run_once(config, now=datetime(2026, 11, 19, 10, 0, tzinfo=BERLIN))

    assert (result.issue_id, result.outcome, result.sent) == ("2026-W47", "sent", 3)
    box = mailbox.Maildir(config.outbox, create=False)
    messages = list(box)
    assert sorted(str(m["To"]) for m in messages) == sorted(ACTIVE)  # one copy each
    for message in messages:
        text = message.as_string()
        assert all(t in text for t in titles)
        assert not any(t in text for t in OLD_TITLES)
    conn = db.connect(config.state)
    carried = {r[0] for r in conn.execute("SELECT title FROM issue_reviews WHERE issue_id = ?",
                                          ("2026-W47",))}  # fmt: skip
    assert carried == set(titles)
    nonce = conn.execute("SELECT nonce FROM issues WHERE id = '2026-W47'").fetchone()[0]
    assert len(nonce) == 16 and int(nonce, 16) >= 0
    conn.close()


def test_a_newer_file_is_refused_in_one_line_and_left_alone(site: Path) -> None:
    state = site / "state" / "digest.sqlite3"
    conn = _raw(state)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    before = state.read_bytes()
    with pytest.raises(StateError) as caught:
        db.connect(state)
    message = str(caught.value)
    assert "\n" not in message and str(state) in message
    assert f"newer digest (schema {db.SCHEMA_VERSION + 1}); upgrade digest" in message
    assert state.read_bytes() == before
    assert not migrations.backup_path(state, db.SCHEMA_VERSION + 1).exists()


def test_a_failing_migration_rolls_everything_back_and_names_the_fix(site: Path) -> None:
    state = site / "state" / "digest.sqlite3"
    before, dump = state.read_bytes(), _dump(state)
    broken = {**migrations.MIGRATIONS, 3: migrations.sql("CREATE TABLE issues (x)")}
    conn = _raw(state)
    with pytest.raises(StateError) as caught:
        migrations.upgrade(conn, state, baseline=db.SCHEMA, steps=broken)
    assert not conn.in_transaction
    conn.close()

    message = str(caught.value)
    latest = db.SCHEMA_VERSION
    assert message.startswith(f"{state}: can't upgrade the state file from schema 1 to {latest}")
    assert "table issues already exists" in message and "\n" not in message
    assert "left as it was" in message and "digest.sqlite3.v1.bak" in message
    # Step 2 ran before step 3 failed: it was rolled back with it, byte for byte.
    assert state.read_bytes() == before and _dump(state) == dump and _version(state) == 1
    # The real migrations still apply afterwards.
    db.connect(state).close()
    assert _version(state) == db.SCHEMA_VERSION


def test_migrations_are_numbered_without_gaps() -> None:
    assert sorted(migrations.MIGRATIONS) == list(range(2, db.SCHEMA_VERSION + 1))
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="without gaps"):
        migrations.upgrade(
            conn, Path("x"), baseline=db.SCHEMA, steps={2: migrations.sql(), 4: migrations.sql()}
        )
