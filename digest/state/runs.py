"""The ``runs`` table: one row per scheduled or manual run and what came of it.

``digest history`` reads it; the scheduler's tick reasons with it (when it last ran, which
weeks were missed while it was down). Its only writer is this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from digest.state.db import Connection, Where, stamp, transaction
from digest.status import RunOutcome, RunTrigger

#: Run triggers that mean the scheduler itself was up (``digest run`` by hand does not count).
SCHEDULED: tuple[RunTrigger, ...] = ("schedule", "catch-up")


def start_run(conn: Connection, trigger: RunTrigger, *, now: datetime, path: Where) -> int:
    with transaction(conn, path):
        row = conn.execute(
            "INSERT INTO runs (trigger, started_at) VALUES (?, ?) RETURNING id",
            (trigger, stamp(now)),
        ).fetchone()
    return int(row[0])


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    issue_id: str | None,
    outcome: RunOutcome,
    detail: str,
    path: Where,
) -> None:
    with transaction(conn, path):
        conn.execute(
            "UPDATE runs SET issue_id = ?, finished_at = ?, outcome = ?, detail = ? WHERE id = ?",
            (issue_id, stamp(), outcome, detail[:1000], run_id),
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of ``runs``: a scheduled or manual run and what came of it."""

    started_at: str
    trigger: str
    issue_id: str
    outcome: str
    detail: str


def recent_runs(conn: Connection, limit: int = 20) -> list[RunSummary]:
    """Runs, newest first — skipped weeks and their reasons included."""
    rows = conn.execute(
        """SELECT started_at, trigger, COALESCE(issue_id, '') AS issue_id,
                  CASE WHEN finished_at IS NULL AND outcome = '' THEN 'unfinished'
                       ELSE outcome END AS outcome, detail
           FROM runs ORDER BY id DESC LIMIT ?""",
        (limit,),
    )
    return [RunSummary(**dict(r)) for r in rows]


def record_skipped(conn: Connection, key: str, *, now: datetime, detail: str, path: Where) -> None:
    """A scheduled run for ``key`` that came too late to be made: a gap is never silent."""
    when = stamp(now)
    with transaction(conn, path):
        conn.execute(
            "INSERT INTO runs (issue_id, trigger, started_at, finished_at, outcome, detail)"
            " VALUES (?, 'schedule', ?, ?, 'skipped', ?)",
            (key, when, when, detail),
        )


def last_scheduled_start(conn: Connection) -> datetime | None:
    """When the scheduler last ran: weeks after that with no issue were missed while down."""
    row = conn.execute(
        "SELECT started_at FROM runs WHERE trigger IN (?, ?) ORDER BY id DESC LIMIT 1", SCHEDULED
    ).fetchone()
    if row is None:
        return None
    try:
        when = datetime.fromisoformat(row["started_at"])
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def accounted_for(conn: Connection, key: str) -> bool:
    """Whether period ``key`` has an issue, or a recorded skip: either way it is not silent."""
    if conn.execute("SELECT 1 FROM issues WHERE id = ?", (key,)).fetchone():
        return True
    skipped = "SELECT 1 FROM runs WHERE issue_id = ? AND outcome = 'skipped'"
    return conn.execute(skipped, (key,)).fetchone() is not None
