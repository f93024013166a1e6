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
from datetime import UTC, datetime

import httpx

from digest.config import Config
from digest.deliver import Transport
from digest.errors import DigestError
from digest.models import Period
from digest.period import current_period, period_key
from digest.pipeline.approval import Proofed, prepare_for_approval
from digest.schedule.cron import build_trigger, next_fire, previous_fire
from digest.state import approvals, db, ledger, runs
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
