"""``state: postgresql://…``: the URL in config, the server's errors, and every state table on
both backends (the tests taking ``state`` run once on a SQLite file, once on PostgreSQL)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from support.cli import assert_one_line_error, digest
from support.config import write_config_file
from support.smtp import NOW, rendered_digest

from digest.config import load_config
from digest.errors import ConfigError, StateError
from digest.pipeline.run import run_once
from digest.state import (
    approvals,
    db,
    deliveries,
    erased,
    events,
    forget,
    http_cache,
    ledger,
    pgschema,
    privacy,
    runs,
    signup,
    subscribers,
)
from digest.state.ledger import IssueDraft
from digest.state.migrations import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def conn(state: db.Target) -> Iterator[db.Connection]:
    conn = db.connect(state)
    yield conn
    conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The URL in config.yaml


def test_a_postgresql_url_is_the_state_and_no_folder_named_after_it_appears(
    tmp_path: Path, postgres_url: str
) -> None:
    path = write_config_file(tmp_path, state=postgres_url)
    added = digest(path, "subscribers", "add", "Reader@Example.org")
    assert added.returncode == 0, added.stderr
    listed = digest(path, "subscribers", "list")
    assert "Reader@example.org" in listed.stdout
    assert not (tmp_path / "postgresql:").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "reviews"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresq://digest@db.example.org/digest", "postgresq:// is not a state digest can use"),
        ("sqlite:///state/digest.sqlite3", "give a file path (state/digest.sqlite3) or a postgres"),
        ("postgresql://digest@db.example.org", "name the database"),
        ("postgresql://digest@db.example.org:54x/digest", "expected postgresql://user@host"),
    ],
)
def test_a_state_url_digest_cannot_use_is_one_line_naming_the_key(
    tmp_path: Path, value: str, expected: str
) -> None:
    path = write_config_file(tmp_path, state=value)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "state:" in str(caught.value) and expected in str(caught.value)
    assert_one_line_error(digest(path, "subscribers", "list"), "state:", expected)
    assert not any(p.name.endswith(":") for p in tmp_path.iterdir())


def test_a_password_in_the_url_is_refused_and_never_repeated(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, state="postgresql://digest:hunter2@db.example.org/digest")
    refused = digest(path, "subscribers", "list")
    assert_one_line_error(refused, "state:", "state_password_env: DIGEST_PG_PASSWORD")
    assert "hunter2" not in refused.stderr + refused.stdout


def test_state_password_env_is_only_for_postgresql(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, state_password_env="DIGEST_PG_PASSWORD")
    assert_one_line_error(digest(path, "subscribers", "list"), "only for a postgresql:// state")


def test_the_password_comes_from_the_variable_state_password_env_names(
    tmp_path: Path, postgres_url: str
) -> None:
    path = write_config_file(tmp_path, state=postgres_url, state_password_env="DIGEST_PG_PASSWORD")
    missing = digest(path, "subscribers", "list")
    assert_one_line_error(
        missing, postgres_url, "state_password_env: environment variable DIGEST_PG_PASSWORD is "
        "not set; export it",
    )  # fmt: skip
    given = digest(path, "subscribers", "list", env={"DIGEST_PG_PASSWORD": "s3cret-pw"})
    assert given.returncode == 0, given.stderr  # the test server trusts loopback


def test_a_server_that_is_down_fails_closed_naming_the_server_and_the_fix(
    tmp_path: Path,
) -> None:
    url = f"postgresql://digest@127.0.0.1:{_free_port()}/digest"
    path = write_config_file(tmp_path, state=url, state_password_env="DIGEST_PG_PASSWORD")
    env = {"DIGEST_PG_PASSWORD": "s3cret-pw"}
    (tmp_path / "reviews" / "a.txt").write_text("Overview: A review.\n\nRating: B\n")
    sent = digest(path, "send", "--yes", env=env)
    assert_one_line_error(sent, url, "check that the server is running")
    assert "s3cret-pw" not in sent.stderr + sent.stdout
    assert not (tmp_path / "outbox").exists()  # nothing sent
    checked = digest(path, "check", env=env)
    assert checked.returncode == 1 and "check that the server is running" in checked.stderr


def test_a_read_only_database_fails_closed_and_sends_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    config = load_config(write_config_file(tmp_path, state=postgres_url))
    conn = db.open_for(config)
    subscribers.add(conn, "reader@example.org")
    conn.close()
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")  # type: ignore[arg-type]
    (tmp_path / "reviews" / "a.txt").write_text("Overview: A review.\n\nRating: B\n")
    with pytest.raises(StateError) as caught:
        run_once(config, now=datetime.now(UTC))
    assert postgres_url in str(caught.value) and "only allows reads" in str(caught.value)
    assert not (tmp_path / "outbox").exists()


# The schema


def test_every_migration_has_a_postgresql_form() -> None:
    assert pgschema.PG_BASELINE <= SCHEMA_VERSION == max(MIGRATIONS)
    assert sorted(pgschema.PG_MIGRATIONS) == list(
        range(pgschema.PG_BASELINE + 1, SCHEMA_VERSION + 1)
    )


def test_a_new_database_gets_the_current_schema_once_however_many_open_it(
    postgres_url: str,
) -> None:
    target = db.PostgresState(url=postgres_url)
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            db.connect(target).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    conn = db.connect(target)
    assert isinstance(conn, db.pg.PgConnection)
    assert pgschema.version(conn) == SCHEMA_VERSION
    assert len(erased.identity(conn)) == 32
    conn.close()


def test_looking_creates_nothing(postgres_url: str) -> None:
    target = db.PostgresState(url=postgres_url)
    assert not db.state_exists(target)
    with pytest.raises(StateError, match="no state in this database yet"):
        db.connect(target, create=False)
    assert not db.state_exists(target)
    assert db.state_problem(target) is None


# Every table, on both backends


def test_addresses_are_unique_whatever_their_case(conn: db.Connection, tmp_path: Path) -> None:
    first = subscribers.add(conn, "Reader@Example.org", name="Ada")
    again = subscribers.add(conn, "READER@example.org")
    assert again.id == first.id and again.name == "Ada"
    assert subscribers.get(conn, "reader@EXAMPLE.org") is not None
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email\nreader@example.ORG\nnew@example.org\nNEW@example.org\n")
    result = subscribers.import_csv(conn, csv_file)
    assert (result.added, result.present) == (1, 2)
    assert [s.email for s in subscribers.listing(conn)] == ["Reader@example.org", "new@example.org"]


def test_an_issue_its_claims_outcomes_and_history(conn: db.Connection, tmp_path: Path) -> None:
    config = load_config(write_config_file(tmp_path))
    for i in range(5):
        subscribers.add(conn, f"reader{i}@example.org")
    subscribers.remove(conn, "reader4@example.org")
    rendered = rendered_digest(config)
    assert ledger.record_issue(conn, rendered, now=NOW, path="state") == 4
    key = rendered.period.key
    subscribers.remove(conn, "reader3@example.org")  # after the issue was recorded
    claimed, skipped = deliveries.claim(conn, key, 10, path="state")
    assert sorted(c.email for c in claimed) == [f"reader{i}@example.org" for i in range(3)]
    assert [o.reason for o in skipped] == ["subscriber is unsubscribed"]
    deliveries.record_outcomes(
        conn, key, [deliveries.Outcome(c.subscriber_id, "sent", "", f"<{i}@x>")
                    for i, c in enumerate(claimed)], path="state",
    )  # fmt: skip
    assert ledger.finish_if_complete(conn, key, now=NOW, path="state")
    (summary,) = ledger.history(conn)
    assert (summary.status, summary.counts["sent"], summary.counts["skipped"]) == ("done", 3, 1)
    assert ledger.get_issue(conn, key).subject == rendered.subject  # type: ignore[union-attr]
    assert [i.key for i in ledger.sent_issues(conn)] == [key]
    assert ledger.unfinished(conn) == []


def test_runs_signup_events_and_erasure(conn: db.Connection) -> None:
    run = runs.start_run(conn, "manual", now=NOW, path="state")
    runs.finish_run(conn, run, issue_id="2026-W48", outcome="sent", detail="ok", path="state")
    assert [(r.trigger, r.outcome) for r in runs.recent_runs(conn)] == [("manual", "sent")]
    ask = dict(within=timedelta(hours=48), per_address=3, per_ip=10, per_hour=100, ip="192.0.2.7")
    made = signup.request(conn, "new@example.org", "New", now=NOW, **ask)  # type: ignore[arg-type]
    assert made.outcome == "mail"
    assert events.count_since(conn, "signup", NOW - timedelta(hours=1), ip="192.0.2.7") == 1
    assert events.count_since(conn, "signup", NOW - timedelta(hours=1), mailed=True) == 1
    assert signup.confirm(conn, made.token, now=NOW).outcome == "confirmed"
    assert subscribers.get(conn, "new@example.org").status == "active"  # type: ignore[union-attr]
    assert privacy.erase(conn, "NEW@example.org", now=NOW)
    assert erased.erased_at(conn, "new@example.org") is not None
    assert subscribers.get(conn, "new@example.org") is None


def test_an_approval_from_proof_to_frozen(conn: db.Connection, tmp_path: Path) -> None:
    """The editor's week on either backend: a proof's link approves once, an approved issue is
    frozen, a replaced link stops working, and reset forgets it."""
    config = load_config(write_config_file(tmp_path))
    draft = IssueDraft.of(rendered_digest(config))
    key = draft.period.key
    first = approvals.store_proof(conn, draft, now=NOW, path="state")
    second = approvals.store_proof(conn, draft, now=NOW, path="state")  # a new proof
    assert first and second and first != second
    assert approvals.check_token(conn, first) is None  # replaced by the new proof's link
    assert approvals.hold(conn, key, due=NOW, now=NOW, path="state")
    assert not approvals.hold(conn, key, due=NOW, now=NOW, path="state")  # told once
    approved = approvals.approve_by_token(conn, second, now=NOW, path="state")
    assert approved is not None and approved.status == "approved"
    assert approved.draft == draft  # the rendering kept as it was proofed
    assert approvals.approve_by_token(conn, second, now=NOW, path="state") is None  # used
    assert approvals.store_proof(conn, draft, now=NOW, path="state") is None  # frozen
    forged = second.rsplit(".", 1)[0] + ".0123456789abcdef0123456789abcdef01234567"
    assert approvals.check_token(conn, forged) is None
    approvals.forget(conn, key, path="state")
    assert approvals.get(conn, key) is None


def test_forgetting_an_issue_and_the_review_order(conn: db.Connection, tmp_path: Path) -> None:
    config = load_config(write_config_file(tmp_path))
    subscribers.add(conn, "reader@example.org")
    rendered = rendered_digest(config)
    ledger.record_issue(conn, rendered, now=NOW, path="state")
    key = rendered.period.key
    with db.transaction(conn):
        for review in ("zeta", "alpha", "mid"):
            conn.execute(
                "INSERT INTO issue_reviews (review_id, issue_id, title) VALUES (?, ?, ?)",
                (review, key, review.title()),
            )
    assert list(forget.issue_reviews(conn, key)) == ["zeta", "alpha", "mid"]
    gone = forget.forget_issue(conn, key, path="state")
    assert gone is not None and (gone.deliveries, gone.reviews) == (1, 3)
    assert ledger.get_issue(conn, key) is None


def test_the_http_cache_keeps_bytes(conn: db.Connection) -> None:
    body = bytes(range(256)) * 4
    headers = httpx.Headers({"etag": '"v1"', "last-modified": "Mon, 23 Nov 2026 08:00:00 GMT"})
    http_cache.cache_store(conn, "https://example.org/feed", headers, body)
    assert http_cache.cache_lookup(conn, "https://example.org/feed") == (
        '"v1"', "Mon, 23 Nov 2026 08:00:00 GMT", body,
    )  # fmt: skip
    http_cache.cache_store(conn, "https://example.org/feed", httpx.Headers(), b"")
    assert http_cache.cache_lookup(conn, "https://example.org/feed") is None


def test_the_commands_on_a_postgresql_state(tmp_path: Path, postgres_url: str) -> None:
    path = write_config_file(tmp_path, state=postgres_url)
    (tmp_path / "reviews" / "a.txt").write_text("Overview: A review.\n\nRating: B\n")
    assert digest(path, "subscribers", "add", "reader@example.org").returncode == 0
    dry = digest(path, "send", "--dry-run")
    assert dry.returncode == 0 and "reader@example.org" in dry.stdout, dry.stderr
    sent = digest(path, "send", "--yes")
    assert sent.returncode == 0 and "1 sent" in sent.stdout, sent.stderr
    key = next(line.split()[1].rstrip(":") for line in sent.stdout.splitlines()
               if line.startswith("issue "))  # fmt: skip
    assert "already sent to 1 subscribers" in digest(path, "send", "--yes").stdout
    assert key in digest(path, "history").stdout
    reset = digest(path, "reset", "--issue", key, "--yes")
    assert reset.returncode == 0 and "forgot issue" in reset.stdout, reset.stderr
    assert "1 sent" in digest(path, "send", "--yes").stdout
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2


def test_a_mapping_is_not_a_state(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, state={"url": "postgresql://digest@db/digest"})
    assert_one_line_error(digest(path, "subscribers", "list"), "state:", "give a file path")
