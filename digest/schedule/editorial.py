"""The editor's side of the schedule: which issue is being worked on, and the prepare firing.

With ``schedule.approval: required``, ``schedule.prepare`` (a cron, e.g. ``0 10 * * fri``)
prepares the issue of the *next* send after it (``schedule.cron``) and mails the proof. Like the
send tick, the prepare tick is safe to repeat: it prepares an issue only when it has no proof
yet (a restart on Friday afternoon sends no second proof), and never one already approved or
sent. ``digest prepare`` prepares again on purpose (a new proof).

The issue an editor works on (``upcoming_period``) is the one of the next send — unless the
latest send held its issue and its grace has not run out: then that one, which still goes out
once approved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from digest.config import Config
from digest.deliver import Transport
from digest.errors import DigestError
from digest.models import Period
from digest.period import current_period, period_key
from digest.pipeline.approval import Proofed, frozen, prepare_for_approval
from digest.pipeline.run import RunResult, run_once
from digest.render.note import note_from_bytes, note_path
from digest.schedule.cron import build_trigger, next_fire, previous_fire
from digest.state import approvals, db, ledger, runs
from digest.state.approvals import Approval
from digest.state.db import Connection
from digest.status import RunOutcome

log = logging.getLogger("digest.schedule")


def upcoming_period(config: Config, now: datetime) -> Period:
    """The period of the issue editors are working on at ``now``."""
    trigger = build_trigger(config)
    last = previous_fire(trigger, now)
    if last is not None and now.astimezone(UTC) - last <= config.schedule.grace_period:
        conn = db.open_for(config)
        try:
            found = approvals.get(conn, period_key(config, last))
            if found is not None and found.status == "held":
                return found.draft.period
        finally:
            conn.close()
    fire = next_fire(trigger, now)
    return current_period(config, fire or now)


def period_of(config: Config, key: str | None, now: datetime) -> Period:
    """The period of issue ``key`` (an issue proofed before, or the upcoming one), or of the
    upcoming issue when ``key`` is None; a ``DigestError`` for any other key."""
    upcoming = upcoming_period(config, now)
    if key is None or key == upcoming.key:
        return upcoming
    conn = db.open_for(config)
    try:
        found = approvals.get(conn, key)
    finally:
        conn.close()
    if found is None:
        raise DigestError(
            f"issue {key} is not the upcoming issue ({upcoming.key}) and was never prepared; "
            f"leave the issue out to work on {upcoming.key}"
        )
    return found.draft.period


def prepare_tick(
    config: Config,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
) -> Proofed | None:
    """Prepare and proof the next issue if ``schedule.prepare`` fired within the grace and
    that issue has no proof yet; ``None`` when there is nothing to do."""
    if config.schedule.approval != "required" or config.schedule.prepare is None:
        return None
    fired = previous_fire(build_trigger(config, cron=config.schedule.prepare), now)
    if fired is None or now.astimezone(UTC) - fired > config.schedule.grace_period:
        return None
    send = next_fire(build_trigger(config), fired)
    if send is None:
        return None
    period = current_period(config, send)
    conn = db.open_for(config)
    try:
        if approvals.get(conn, period.key) or ledger.get_issue(conn, period.key):
            return None
        run_id = runs.start_run(conn, "prepare", now=now, path=config.state)
    finally:
        conn.close()
    try:
        result = prepare_for_approval(config, period, now=now, client=client, transport=transport)
        detail = result.message
        outcome: RunOutcome = "empty"
        if result.outcome in ("proofed", "no-sources"):
            outcome = "proofed" if result.outcome == "proofed" else "no-sources"
    except DigestError as e:
        result, outcome, detail = None, "error", str(e)
    conn = db.open_for(config)
    try:
        runs.finish_run(
            conn, run_id, issue_id=period.key, outcome=outcome, detail=detail, path=config.state
        )
    finally:
        conn.close()
    log.info("prepare issue=%s outcome=%s %s", period.key, outcome, detail)
    return result


@dataclass(frozen=True, slots=True)
class Approved:
    """What ``approve_issue`` did: the approval, and the send of a held issue if it ran."""

    approval: Approval
    message: str
    sent: RunResult | None = None


def approve_issue(
    config: Config,
    key: str | None,
    *,
    now: datetime,
    by: str = "digest approve",
    transport: Transport | None = None,
) -> Approved:
    """Approve issue ``key`` (default: the one awaiting approval); a held issue still within
    its grace is sent at once, keyed to the time it was due."""
    conn = db.open_for(config)
    try:
        key = key or _awaiting_key(conn, config, now)
        found = approvals.get(conn, key)
        if found is None or found.status == "approved" or ledger.get_issue(conn, key):
            raise DigestError(_not_awaiting(conn, key, found))
        approved = approvals.approve(conn, key, by=by, now=now, path=config.state)
        if approved is None:
            raise DigestError(f"issue {key} was approved or sent meanwhile; nothing changed")
    finally:
        conn.close()
    if found.status == "held" and found.due_at is not None:
        due = datetime.fromisoformat(found.due_at)
        if now.astimezone(UTC) - due <= config.schedule.grace_period:
            result = run_once(config, now=due, trigger="approve", transport=transport)
            return Approved(
                approved, f"issue {key} approved; it was held, so it went out now", result
            )
        return Approved(
            approved,
            f"issue {key} approved, but its send time ({found.due_at}) is more than "
            f"schedule.grace ({config.schedule.grace}) ago, so it does not go out on its own; "
            "`digest send` sends it while its period lasts",
        )
    return Approved(approved, f"issue {key} approved; it goes out as approved at its send time")


def _awaiting_key(conn: Connection, config: Config, now: datetime) -> str:
    waiting = [a.key for a in approvals.awaiting(conn)]
    if not waiting:
        raise DigestError("no issue is waiting for approval; `digest prepare` prepares one")
    upcoming = upcoming_period(config, now).key
    if upcoming in waiting:
        return upcoming
    if len(waiting) == 1:
        return waiting[0]
    raise DigestError(f"several issues wait for approval ({', '.join(waiting)}); name one")


def _not_awaiting(conn: Connection, key: str, found: Approval | None) -> str:
    stored = ledger.get_issue(conn, key)
    if stored is not None:
        return f"issue {key} is already {stored.status}; there is nothing to approve"
    if found is None:
        return f"issue {key} has not been prepared; `digest prepare {key}` makes its proof first"
    return f"issue {key} is already approved (frozen)"


def write_note(config: Config, key: str | None, source: Path, *, now: datetime) -> str:
    """Copy ``source`` to the notes folder as issue ``key``'s note (default: the upcoming
    issue); refused for an issue approved or sent. Returns what to say."""
    period = period_of(config, key, now)
    conn = db.open_for(config)
    try:
        frozen(conn, period.key)
        proofed = approvals.get(conn, period.key) is not None
    finally:
        conn.close()
    try:
        data = source.read_bytes()
    except OSError as e:
        raise DigestError(f"{source}: can't read the note ({e.strerror})") from e
    note_from_bytes(data, source)  # refused here, not at the send: not UTF-8, too long
    target = note_path(config, period.key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".tmp")
        partial.write_bytes(data)
        partial.replace(target)
    except OSError as e:
        raise DigestError(f"{target}: can't write the note ({e.strerror}); check notes:") from e
    after = f"; `digest prepare {period.key}` sends a new proof with it" if proofed else ""
    return f"note for issue {period.key} saved as {target}{after}"
