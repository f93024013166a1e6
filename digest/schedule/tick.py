"""What each scheduled run does: the *tick*, ``digest run``, and the log line per run.

Every firing of the cron trigger, and every start of ``digest schedule``, do the same
idempotent tick:

1. resume any issue left ``sending`` by a crash or a stop (the ledger knows who has a copy);
2. with ``schedule.approval: required``, prepare and proof the next issue when
   ``schedule.prepare`` fired within the grace and it has no proof yet (``schedule.editorial``);
3. find the most recent scheduled time at or before now; if its period has no issue yet and
   it is no more than ``schedule.grace`` ago, run it — with ``now`` set to that *scheduled*
   time, so a late catch-up still keys to the week it was for; if it is older, record a
   ``skipped`` run saying by how much it was missed. Every week missed while the process was
   down since the scheduler last ran gets such a row: a gap is never silent.

The ledger is the memory (not an APScheduler job store), so the tick is safe to repeat at any
moment: a repeated firing finds the period's issue and records ``already-sent``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.triggers.cron import CronTrigger

from digest.config import Config
from digest.deliver import Transport
from digest.errors import DigestError
from digest.period import moment_in, period_key
from digest.pipeline.approval import Proofed
from digest.pipeline.run import RunResult, run_once
from digest.schedule.cron import build_trigger, fires_between, local_time, previous_fire
from digest.schedule.editorial import prepare_tick
from digest.state import approvals, db, ledger, runs, signup
from digest.state.db import Connection
from digest.state.locks import DEFAULT_WAIT, runner_lock
from digest.status import RETRY_OUTCOMES, RunTrigger

log = logging.getLogger("digest.schedule")


# ---------------------------------------------------------------------------------------------
# One tick: resume, catch up or skip, run what is due
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Missed:
    """A scheduled run that was not done because it came too late; recorded in ``runs``."""

    issue_id: str
    fire: datetime
    late: timedelta
    grace: timedelta

    @property
    def reason(self) -> str:
        return f"missed by {_hours(self.late)}, grace is {_hours(self.grace)}"


def _hours(span: timedelta) -> str:
    """``12h``, ``1.5h``, ``40m``, ``3d`` — short, for a log line and ``digest history``."""
    seconds = span.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f}d"
    if seconds >= 3600:
        return f"{round(seconds / 3600, 0 if seconds >= 36000 else 1):g}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did: runs made (resumed or due) and periods recorded as skipped."""

    results: tuple[RunResult, ...]
    missed: tuple[Missed, ...]
    #: The proof made by this tick (``schedule.prepare`` fired within the grace), if any.
    proofed: Proofed | None = None

    @property
    def retry_soon(self) -> bool:
        """Deferred copies, failed sources or a busy ledger: try again within the grace."""
        return any(r.outcome in RETRY_OUTCOMES or r.deferred for r in self.results)


def tick(
    config: Config,
    *,
    now: datetime,
    trigger: CronTrigger | None = None,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
    stop: threading.Event | None = None,
) -> TickReport:
    """What the scheduler does at start-up and at every firing; safe to repeat at any time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)  # real elapsed time in every subtraction below, across DST
    trigger = trigger or build_trigger(config)
    grace = config.schedule.grace_period
    due = previous_fire(trigger, now)
    due_key = period_key(config, due) if due is not None else None
    due_runs = due is not None and now - due <= grace

    conn = db.open_for(config)
    try:
        interrupted = _interrupted(conn, config)
        missed = _record_missed(conn, config, trigger, now=now, due=due)
        signup.purge_expired(conn, now=now)  # also when nothing is due: at start-up, say
    finally:
        conn.close()

    proofed = None
    if not (stop is not None and stop.is_set()):
        proofed = prepare_tick(config, now=now, client=client, transport=transport)
    results: list[RunResult] = []
    for key, when in interrupted:
        if (due_runs and key == due_key) or (stop is not None and stop.is_set()):
            continue  # the due run below resumes its own period
        results.append(
            _run(config, now=when, trigger="resume", client=client, transport=transport, stop=stop)
        )
    if due is not None and due_runs and not (stop is not None and stop.is_set()):
        trigger_name: RunTrigger = "schedule" if now - due < timedelta(minutes=1) else "catch-up"
        results.append(
            _run(
                config, now=due, trigger=trigger_name, client=client, transport=transport, stop=stop
            )
        )
    return TickReport(results=tuple(results), missed=tuple(missed), proofed=proofed)


def _interrupted(conn: Connection, config: Config) -> list[tuple[str, datetime]]:
    """Issues left ``sending``, oldest first, each with a moment inside its period."""
    return [(key, _moment_in(config, key, end)) for key, end in ledger.unfinished(conn)]


def _moment_in(config: Config, key: str, period_end: str) -> datetime:
    """A time whose period key is ``key``: the issue's own end if it keys there, else midweek."""
    try:
        end = datetime.fromisoformat(period_end)
        if end.tzinfo is not None and period_key(config, end) == key:
            return end
    except ValueError:
        pass
    return moment_in(config, key)


def record_missed(
    config: Config, *, now: datetime, trigger: CronTrigger | None = None
) -> list[Missed]:
    """Record a ``skipped`` run for each period whose time came and went beyond the grace."""
    trigger = trigger or build_trigger(config)
    conn = db.open_for(config)
    try:
        return _record_missed(conn, config, trigger, now=now, due=previous_fire(trigger, now))
    finally:
        conn.close()


def _record_missed(
    conn: Connection,
    config: Config,
    trigger: CronTrigger,
    *,
    now: datetime,
    due: datetime | None,
) -> list[Missed]:
    if due is None:
        return []
    now = now.astimezone(UTC)
    grace = config.schedule.grace_period
    candidates = [due]
    last_seen = runs.last_scheduled_start(conn)
    if last_seen is not None and last_seen < due:
        candidates = fires_between(trigger, last_seen, due)
    latest: dict[str, datetime] = {}
    for fire in candidates:
        latest[period_key(config, fire)] = fire  # several fires in one week: the last one counts
    missed = []
    for key, fire in latest.items():
        if now - fire <= grace or runs.accounted_for(conn, key):
            continue
        m = Missed(issue_id=key, fire=fire, late=now - fire, grace=grace)
        local = local_time(config, fire)
        detail = f"{m.reason} (was due {local})"
        held = approvals.get(conn, key)
        if held is not None and held.status == "held":
            detail = f"held: not approved within the grace, {detail}"
        runs.record_skipped(conn, key, now=now, detail=detail, path=config.state)
        log_line(issue=key, trigger="schedule", outcome="skipped", reason=m.reason, due=local)
        missed.append(m)
    return missed


def _run(
    config: Config,
    *,
    now: datetime,
    trigger: RunTrigger,
    client: httpx.Client | None,
    transport: Transport | None,
    stop: threading.Event | None,
) -> RunResult:
    """One ``run_once`` and its log line. A ``DigestError`` (mail server down, state unusable)
    becomes an ``error`` result, so one failed issue never hides the next one's run."""
    started = time.monotonic()
    try:
        result = run_once(
            config, now=now, trigger=trigger, client=client, transport=transport, stop=stop
        )
    except DigestError as e:
        result = RunResult(period_key(config, now), "error", str(e))
    log_result(result, trigger=trigger, duration=time.monotonic() - started)
    return result


# ---------------------------------------------------------------------------------------------
# Logging: one structured line per run
# ---------------------------------------------------------------------------------------------


def log_line(**fields: object) -> None:
    """``key=value`` pairs on one line; values with spaces or quotes are JSON-quoted."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(c in text for c in ' "=\\\n'):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    log.info("run %s", " ".join(parts))


def log_result(result: RunResult, *, trigger: RunTrigger, duration: float) -> None:
    log_line(
        issue=result.issue_id,
        trigger=trigger,
        outcome=result.outcome,
        reviews=result.reviews,
        recipients=result.recipients,
        sent=result.sent,
        failed=result.failed,
        deferred=result.deferred,
        duration=f"{duration:.1f}s",
        **({"error": result.message} if result.outcome == "error" else {}),
    )


# ---------------------------------------------------------------------------------------------
# ``digest run`` and ``digest next``
# ---------------------------------------------------------------------------------------------


def run_now(
    config: Config,
    *,
    now: datetime,
    stop: threading.Event | None = None,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
    lock_wait: float = DEFAULT_WAIT,
) -> tuple[RunResult, ...]:
    """One run now under the runner lock: resume what a crash left, then this period's issue."""
    with runner_lock(config, wait=lock_wait):
        conn = db.open_for(config)
        try:
            interrupted = _interrupted(conn, config)
        finally:
            conn.close()
        key = period_key(config, now)
        results = [
            _run(config, now=when, trigger="resume", client=client, transport=transport, stop=stop)
            for other, when in interrupted
            if other != key
        ]
        if stop is None or not stop.is_set():
            results.append(
                _run(config, now=now, trigger="run", client=client, transport=transport, stop=stop)
            )
    return tuple(results)
