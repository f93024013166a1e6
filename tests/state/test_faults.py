"""Promise 5, fail closed on state: a full disk, a locked or a read-only state database.

Each fault is real: the disk fills up for a ``digest send`` run in a child process whose file
size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored) makes SQLite's writes fail exactly as on
a full disk; the lock is held by another process with ``BEGIN EXCLUSIVE``, taken just before
the issue is recorded or in the middle of the send; the state folder of a half-sent issue turns
read-only (a read-only bind mount in a private mount namespace, or plain permissions when not
root) before the send is resumed. Each test checks that no copy leaves without its ``sending``
row committed first, that the error is one line naming the state file, and that once the
fault is gone the next send finishes with exactly one copy per subscriber.
"""

from __future__ import annotations

import mailbox
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.smtp import (
    NOW,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
    write_config,
    write_reviews,
)

from digest.config import Config, load_config
from digest.deliver.loop import crash_window
from digest.errors import StateError
from digest.pipeline.run import Plan, run_once
from digest.state import db

ISSUE = "2026-W48"  # the period of ``NOW``, which ``rendered_digest`` records


def _config(tmp_path: Path) -> Config:
    return load_config(write_config(tmp_path))


def _outbox(config: Config) -> Counter[str]:
    """Recipient → how many copies the Maildir outbox holds."""
    if not (config.outbox / "new").exists():
        return Counter()
    box = mailbox.Maildir(config.outbox, create=False)
    return Counter(str(m["To"]) for m in box)


def _quiesce(config: Config) -> None:
    """Fold the WAL into the database and remove it, so a child starts with an empty log."""
    conn = db.connect(config.state)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _digest(
    config: Config, *args: str, fsize: int | None = None, wrap: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``digest --config … ARGS`` in a child process, optionally with a file size limit."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))

    command = [sys.executable, "-m", "digest", "--config", str(config.path), *args]
    return subprocess.run(
        [*(wrap or []), *command],
        cwd=config.folder,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )


def _one_line_naming_the_state(config: Config, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert str(config.state) in lines[0]
    return lines[0]


def _states(config: Config) -> dict[str, str]:
    return {email: status for email, (status, _) in delivery_states(config, ISSUE).items()}


def _no_copy_without_a_claim(config: Config) -> Counter[str]:
    """Every copy in the outbox belongs to a row claimed (``sending``) or recorded ``sent``;
    no ``pending`` row has a copy. Returns the outbox."""
    copies = _outbox(config)
    states = _states(config)
    for email in copies:
        assert states[email] in ("sending", "sent"), (email, states[email])
    assert set(copies.values()) <= {1}
    return copies


# ---------------------------------------------------------------------------------------------
# Disk full
# ---------------------------------------------------------------------------------------------


def test_disk_full_while_recording_the_issue_sends_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    # Dated from the real clock: the child's `digest send` picks this week's period.
    write_reviews(tmp_path / "reviews", 12, published=datetime.now(UTC) - timedelta(hours=1))
    emails = add_subscribers(config, 5)
    _quiesce(config)

    # Files may grow to 40 KiB: room for SQLite's 32 KiB shared-memory index and the `runs`
    # row, not for the rendered issue (twelve reviews, ~50 KB of HTML) and its rows.
    full = _digest(config, "send", "--yes", fsize=40 * 1024)

    assert full.returncode == 1, full.stdout + full.stderr
    line = _one_line_naming_the_state(config, full.stderr)
    assert "can't write" in line and "free space" in line
    assert _outbox(config) == Counter()
    conn = db.connect(config.state)
    try:
        for table in ("issues", "deliveries", "issue_reviews"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        (run,) = conn.execute("SELECT outcome, detail FROM runs").fetchall()
        assert run["outcome"] == "error" and str(config.state) in run["detail"]
    finally:
        conn.close()

    # Space freed: the next send records the issue and sends it, once to each subscriber.
    again = _digest(config, "send", "--yes")
    assert again.returncode == 0, again.stderr
    assert _outbox(config) == dict.fromkeys(emails, 1)


def test_disk_full_in_the_middle_of_a_send_stops_and_resumes_exactly_once(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    emails = add_subscribers(config, 80)
    record(config, rendered_digest(config))  # the issue and 80 pending rows
    _quiesce(config)

    # Files may grow to 48 KiB (each copy is ~2 KB; SQLite's index is 32 KiB): the write-ahead
    # log has room for the first claims, and fills up long before 80 copies are recorded —
    # each claim of at most 8 rows, and each batch of outcomes, adds at least one 4 KiB page.
    full = _digest(config, "send", "--yes", "--issue", ISSUE, fsize=48 * 1024)

    assert full.returncode == 1, full.stdout + full.stderr
    line = _one_line_naming_the_state(config, full.stderr)
    assert "can't write" in line
    copies = _no_copy_without_a_claim(config)
    assert 0 < len(copies) < len(emails), "the disk should fill up mid-send"
    assert "pending" in _states(config).values()

    again = _digest(config, "send", "--yes", "--issue", ISSUE)
    assert again.returncode == 0, again.stderr
    assert _outbox(config) == dict.fromkeys(emails, 1)
    assert set(_states(config).values()) == {"sent"}
    conn = db.connect(config.state)
    try:
        status = conn.execute("SELECT status FROM issues WHERE id = ?", (ISSUE,)).fetchone()[0]
    finally:
        conn.close()
    assert status == "done"


# ---------------------------------------------------------------------------------------------
# Locked by another process
# ---------------------------------------------------------------------------------------------

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
sys.stdin.readline()                  # "lock"
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()                  # "release" (or EOF)
conn.execute("ROLLBACK")
conn.close()
"""


class LockHolder:
    """Another process that takes the state database's write lock when asked."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.held = False

    def lock(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("lock\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "locked"
        self.held = True

    def release(self) -> None:
        assert self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.write("release\n" if self.held else "lock\nrelease\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real busy handler, with a wait shorter than the 30 s default.
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.3)


def test_a_lock_held_while_the_issue_is_recorded_sends_nothing(
    tmp_path: Path, short_wait: None
) -> None:
    config = _config(tmp_path)
    write_reviews(tmp_path / "reviews", 2)
    emails = add_subscribers(config, 4)
    holder = LockHolder(config.state)

    def lock_then_go(plan: Plan) -> bool:  # called just before the issue is recorded
        holder.lock()
        return True

    try:
        with pytest.raises(StateError) as caught:
            run_once(config, now=NOW, confirm=lock_then_go)
    finally:
        holder.release()
    message = str(caught.value)
    assert message.startswith(f"{config.state}: can't write (database is locked)")
    assert "another process" in message
    assert _outbox(config) == Counter()
    conn = db.connect(config.state)
    try:
        assert conn.execute("SELECT count(*) FROM issues").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    finally:
        conn.close()

    assert run_once(config, now=NOW).sent == 4
    assert _outbox(config) == dict.fromkeys(emails, 1)


def test_a_lock_taken_mid_send_stops_the_send_with_nothing_unrecorded(
    tmp_path: Path, short_wait: None
) -> None:
    config = _config(tmp_path)
    write_reviews(tmp_path / "reviews", 2)
    # More than the rows one claim takes (the crash window), so the send must claim again
    # after its first batch of outcomes is committed — with the lock held by then.
    emails = add_subscribers(config, 2 * crash_window(1))
    holder = LockHolder(config.state)

    def progress(done: int, total: int) -> None:  # after each batch of outcomes is recorded
        if done and not holder.held:
            holder.lock()

    try:
        with pytest.raises(StateError) as caught:
            run_once(config, now=NOW, progress=progress)
    finally:
        holder.release()
    assert str(caught.value).startswith(f"{config.state}: can't write (database is locked)")
    copies = _no_copy_without_a_claim(config)
    assert 0 < len(copies) < len(emails)

    result = run_once(config, now=NOW)
    assert result.outcome == "sent"
    assert _outbox(config) == dict.fromkeys(emails, 1)
    assert set(_states(config).values()) == {"sent"}


# ---------------------------------------------------------------------------------------------
# Read-only
# ---------------------------------------------------------------------------------------------


def _read_only_wrapper(folder: Path) -> list[str] | None:
    """A command prefix that runs its command with ``folder`` mounted read-only (a private
    mount namespace; a user namespace when not root), or None when this system can't."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    flags = ["--mount", "--propagation", "private"] if os.geteuid() == 0 else ["-rm"]
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    wrap = [unshare, *flags, "sh", "-c", script, str(folder)]
    probe = subprocess.run(
        [*wrap, "sh", "-c", 'touch "$0/.probe" 2>/dev/null; test ! -e "$0/.probe"', str(folder)],
        capture_output=True,
    )
    return wrap if probe.returncode == 0 else None


def test_a_read_only_state_database_stops_a_resumed_send_before_any_copy(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    emails = add_subscribers(config, 6)
    record(config, rendered_digest(config))
    # Half sent, then interrupted: three copies out and recorded, three pending.
    first = delivery_states(config, ISSUE)
    assert run_once(config, now=NOW).sent == 6  # sends all six …
    conn = db.connect(config.state)
    try:
        # … then the ledger is put back to how an interrupted send leaves it, and the copies
        # of the three "pending" rows removed from the outbox.
        pending = sorted(first)[3:]
        with db.transaction(conn, config.state):
            conn.execute("UPDATE issues SET status = 'sending', finished_at = NULL")
            conn.executemany(
                "UPDATE deliveries SET status = 'pending' WHERE email = ?",
                [(e,) for e in pending],
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    box = mailbox.Maildir(config.outbox, create=False)
    for key, message in list(box.items()):
        if str(message["To"]) in pending:
            box.remove(key)
    before = _states(config)

    wrap = _read_only_wrapper(config.state.parent)
    if wrap is None:
        if os.geteuid() == 0:
            pytest.skip("needs unshare and mount namespaces to make a read-only folder as root")
        wrap = []
        config.state.chmod(0o444)
        config.state.parent.chmod(0o555)
    try:
        stuck = _digest(config, "send", "--yes", "--issue", ISSUE, wrap=wrap)
    finally:
        config.state.parent.chmod(0o755)
        config.state.chmod(0o644)

    assert stuck.returncode == 1, stuck.stdout + stuck.stderr
    line = _one_line_naming_the_state(config, stuck.stderr)
    # The fix offered is about permissions — never "start afresh", which would forget who
    # already has the issue.
    assert "writable" in line and "afresh" not in line
    assert _states(config) == before
    assert _outbox(config) == dict.fromkeys(sorted(first)[:3], 1)

    again = _digest(config, "send", "--yes", "--issue", ISSUE)
    assert again.returncode == 0, again.stderr
    assert _outbox(config) == dict.fromkeys(emails, 1)
    assert set(_states(config).values()) == {"sent"}
