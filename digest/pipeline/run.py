"""One run: prepare the period's issue, record it, send it — or resume it.

The period key names the issue. An issue already ``done`` (or recorded ``empty``) is never
built again; one left ``sending`` (a crash, a stop, deferred copies) is resumed from the
rendering stored in the ledger — a started issue is never re-rendered. A new issue is read,
selected and rendered completely (``pipeline.issue``) before anything is written; then the
issue, one ``pending`` row per active subscriber and its reviews are recorded in ONE
transaction (fail closed: if that write fails, nothing is sent and the ``StateError`` names the
file), and only then does the first message leave.

The send lock (``state.locks.send_lock``, an ``flock`` the kernel drops if the process dies)
keeps a second sender off a SQLite ledger while one is at work; the atomic row claims in
``state.deliveries`` are the second guard.

On PostgreSQL any number of processes, on any number of hosts, share the period's issue: each
holds ``locks.preparing`` only while it decides what the issue is and records it (so exactly one
of them prepares and records a new issue; the others wait, then find it ``sending``), and then
they all send it, each claiming rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

from digest.config import Config
from digest.deliver import DeliveryReport, Transport, deliver, make_transport
from digest.deliver.message import DkimSigner, MessageTemplate
from digest.errors import DeliveryError, DigestError, SendBusy
from digest.models import Period, Problem
from digest.period import current_period
from digest.pipeline import approval
from digest.pipeline.issue import prepare_issue
from digest.state import db, deliveries, ledger, locks, runs, signup, subscribers
from digest.state.db import Connection
from digest.state.ledger import IssueDraft, StoredIssue
from digest.state.locks import send_lock
from digest.status import RunOutcome, RunTrigger

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a send is about to do; shown for confirmation before anything is written."""

    issue_id: str
    subject: str
    reviews: int
    recipients: int
    resuming: bool
    transport: str
    warnings: tuple[str, ...] = ()


Confirm = Callable[[Plan], bool]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did (``outcome``: see ``status.RunOutcome``)."""

    issue_id: str
    outcome: RunOutcome
    message: str
    reviews: int = 0
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    skipped: int = 0
    elapsed: float = 0.0
    rate: float = 0.0
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    #: Other issues still ``sending`` (deferred copies, say): resume with ``--issue KEY``.
    unfinished: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Job:
    """Everything one run was asked to do, handed down in one piece."""

    now: datetime
    whole_window: bool
    client: httpx.Client | None
    transport: Transport | None
    stop: threading.Event | None
    progress: Progress | None
    confirm: Confirm | None
    resend_unknown: bool
    #: ``time.monotonic()`` when the run began: the summary's duration is the whole run's, as
    #: the scheduler's log line measures it, not only the sending.
    started: float = field(default_factory=time.monotonic)


def run_once(
    config: Config,
    *,
    now: datetime,
    trigger: RunTrigger = "manual",
    client: httpx.Client | None = None,
    transport: Transport | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    confirm: Confirm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    resend_unknown: bool = False,
    issue: str | None = None,
) -> RunResult:
    """Build (or resume) and send the issue for the period of ``now``; record a ``runs`` row.

    ``resend_unknown``: also send again the copies left ``unknown`` (the server dropped after
    the final "."), with the same Message-ID — only ever on an operator's explicit request.
    ``issue``: resume that earlier issue (e.g. ``2026-W47``) instead of this period's.

    ``now`` picks the period (the scheduler passes the *scheduled* time, so a late catch-up
    keys to the week it was for), and is the ``runs.started_at`` the scheduler reasons with.
    The issue's timestamps and each message's ``Date:`` use the real clock, so a copy sent five
    hours late is dated when it actually went out.
    """
    job = _Job(now, since is not None, client, transport, stop, progress, confirm, resend_unknown)
    conn = db.open_for(config)
    try:
        if issue is None:
            period = current_period(config, now, since=since, until=until)
        else:
            period = _stored_period(conn, issue)
        # Sign-ups nobody confirmed are forgotten once their link has expired, without anyone
        # asking: every run (digest run, send, each scheduled firing) clears them out.
        signup.purge_expired(conn, now=now)
        deliveries.tune_for_sending(conn)
        run_id = runs.start_run(conn, trigger, now=now, path=config.state)
        try:
            result = _locked_run(config, conn, period, job)
        except DigestError as e:
            runs.finish_run(
                conn, run_id, issue_id=period.key, outcome="error", detail=str(e),
                path=config.state,
            )  # fmt: skip
            raise
        runs.finish_run(
            conn, run_id, issue_id=period.key, outcome=result.outcome, detail=result.message,
            path=config.state,
        )  # fmt: skip
        others = tuple(key for key, _ in ledger.unfinished(conn) if key != period.key)
        return dataclasses.replace(result, unfinished=others)
    finally:
        conn.close()


def wall_clock() -> datetime:
    """The real time: what a message's ``Date:`` and the ledger's timestamps say."""
    return datetime.now(UTC)


def _stored_period(conn: Connection, key: str) -> Period:
    period = ledger.stored_period(conn, key)
    if period is None:
        known = ", ".join(ledger.issue_keys(conn))
        raise DeliveryError(
            f"there is no issue {key} to resume" + (f" (issues: {known})" if known else "")
        )
    return period


def _locked_run(config: Config, conn: Connection, period: Period, job: _Job) -> RunResult:
    if db.is_postgres(conn):
        with locks.sharing(conn):
            with locks.preparing(conn):
                ready = _ready(config, conn, period, job)
            return ready if isinstance(ready, RunResult) else _send(config, conn, *ready, job)
    try:
        with send_lock(config):
            ready = _ready(config, conn, period, job)
            return ready if isinstance(ready, RunResult) else _send(config, conn, *ready, job)
    except SendBusy:
        return RunResult(
            period.key,
            "busy",
            f"issue {period.key} is being sent by another digest process right now; "
            "nothing to do here (its ledger will show the result)",
        )


#: An issue ready to go: what ``_send`` needs besides the config, the connection and the job.
_Ready = tuple[StoredIssue, Transport, "DkimSigner | None", tuple[Problem, ...], tuple[str, ...]]


def _ready(config: Config, conn: Connection, period: Period, job: _Job) -> RunResult | _Ready:
    """Decide what this run does, recording a new issue if it is the one to make: a finished
    ``RunResult`` when there is nothing to send, else the issue ready for ``_send``."""
    key = period.key
    if job.resend_unknown:
        deliveries.reopen_unknown(conn, key, path=config.state)
    if ledger.get_issue(conn, key) is None:
        approved = approval.gate(
            config, conn, period, now=job.now, client=job.client, transport=job.transport
        )
        if approved.held:
            return RunResult(key, "held", approved.held)
        if approved.draft is not None:
            return _record_draft(config, conn, approved.draft, job)
    prepared = prepare_issue(
        config, period, now=job.now, conn=conn, client=job.client,
        whole_window=job.whole_window, use_stored=True, remember=True,
    )  # fmt: skip
    stored = prepared.stored
    if prepared.state == "stored" and stored is not None and stored.status == "done":
        totals = deliveries.counts(conn, key)
        return RunResult(
            key, "already-sent", f"issue {key} already sent to {totals['sent']} subscribers",
            reviews=stored.review_count, totals=totals,
        )  # fmt: skip
    if prepared.state == "stored" and stored is not None and stored.status == "empty":
        return RunResult(key, "empty", prepared.why_nothing)
    problems = prepared.collection.problems if prepared.collection else ()
    if prepared.state == "no-sources":
        return RunResult(key, "no-sources", prepared.why_nothing, problems=problems)
    if prepared.state == "nothing-new":
        ledger.record_empty(conn, period, prepared.why_nothing, now=wall_clock(), path=config.state)
        return RunResult(key, "empty", prepared.why_nothing, problems=problems)
    # Everything that can fail on configuration is done before the ledger is written.
    transport = job.transport or make_transport(config)
    signer = dkim_signer(config)  # before the ledger is written: a bad key file stops here
    if stored is None:
        assert prepared.rendered is not None  # state "ready" with render=True
        rendered = prepared.rendered
        if deliveries.active_count(conn) == 0:
            return RunResult(
                key, "no-subscribers", NO_SUBSCRIBERS, reviews=len(rendered.reviews),
                problems=problems, warnings=rendered.warnings,
            )  # fmt: skip
        plan = Plan(key, rendered.subject, len(rendered.reviews), deliveries.active_count(conn),
                    False, transport.describe(), rendered.warnings)  # fmt: skip
        if job.confirm is not None and not job.confirm(plan):
            return RunResult(key, "cancelled", "cancelled; nothing was recorded or sent")
        ledger.record_issue(conn, rendered, now=wall_clock(), path=config.state)
        stored = ledger.get_issue(conn, key)
        assert stored is not None
    else:
        deliveries.prepare_resume(conn, key, path=config.state)
        remaining = deliveries.counts(conn, key)["pending"]
        plan = Plan(key, stored.subject, stored.review_count, remaining, True, transport.describe())
        if job.confirm is not None and not job.confirm(plan):
            return RunResult(key, "cancelled", "cancelled; nothing was sent")
    return stored, transport, signer, problems, plan.warnings


NO_SUBSCRIBERS = (
    "no active subscribers, so nothing was recorded or sent and the reviews wait for the next "
    "issue; add some with `digest subscribers import FILE.csv`"
)


def _record_draft(
    config: Config, conn: Connection, draft: IssueDraft, job: _Job
) -> RunResult | _Ready:
    """Record the rendering an editor approved (``pipeline.approval``), as it is, for
    ``_send``; like ``_ready`` it runs under the preparing lock, the send after it."""
    key = draft.period.key
    transport = job.transport or make_transport(config)
    signer = dkim_signer(config)
    recipients = deliveries.active_count(conn)
    if recipients == 0:
        return RunResult(key, "no-subscribers", NO_SUBSCRIBERS, reviews=len(draft.reviews))
    plan = Plan(key, draft.subject, len(draft.reviews), recipients, False, transport.describe())
    if job.confirm is not None and not job.confirm(plan):
        return RunResult(key, "cancelled", "cancelled; nothing was recorded or sent")
    ledger.record_draft(conn, draft, now=wall_clock(), path=config.state)
    stored = ledger.get_issue(conn, key)
    assert stored is not None
    return stored, transport, signer, (), ()


def _send(
    config: Config,
    conn: Connection,
    issue: StoredIssue,
    transport: Transport,
    signer: DkimSigner | None,
    problems: tuple[Problem, ...],
    warnings: tuple[str, ...],
    job: _Job,
) -> RunResult:
    key = issue.key
    report = deliver(
        conn, state=config.state, key=key, template=message_template(config, issue, signer),
        transport=transport, stop=job.stop, progress=job.progress,
    )  # fmt: skip
    finished = ledger.finish_if_complete(conn, key, now=wall_clock(), path=config.state)
    if report.error is not None:
        raise report.error
    totals = deliveries.counts(conn, key)
    took = time.monotonic() - job.started  # the whole run, as the scheduler's log line says
    result = _result(key, issue.review_count, report, totals, finished, problems, warnings, took)
    return replace(result, message=result.message + left_out(subscribers.status_counts(conn)))


def left_out(counts: dict[str, int]) -> str:
    """``; 3 not sent: 2 pending confirmation, 1 bounced`` — the subscribers no issue goes
    to, and why (empty when there are none)."""
    why = {"pending": "pending confirmation"}
    parts = [f"{n} {why.get(s, s)}" for s, n in counts.items() if s != "active" and n]
    total = sum(n for s, n in counts.items() if s != "active")
    return f"; {total} not sent: {', '.join(parts)}" if total else ""


def message_template(
    config: Config, issue: StoredIssue, signer: DkimSigner | None, *, test_copy: bool = False
) -> MessageTemplate:
    """The message every recipient's copy of ``issue`` is made from, dated now; it signs each
    copy it renders (the body's canonical form is shared across copies)."""
    return MessageTemplate(
        config=config, issue_key=issue.key, subject=issue.subject, html_body=issue.html,
        text_body=issue.text, markers=issue.markers, date=wall_clock(), test_copy=test_copy,
        nonce=issue.nonce, signer=signer,
    )  # fmt: skip


def dkim_signer(config: Config) -> DkimSigner | None:
    """The DKIM signer ``dkim:`` asks for, or ``None``."""
    return None if config.dkim is None else DkimSigner.from_config(config.dkim)


def _result(
    key: str,
    reviews: int,
    report: DeliveryReport,
    totals: dict[str, int],
    finished: bool,
    problems: tuple[Problem, ...],
    warnings: tuple[str, ...],
    took: float,
) -> RunResult:
    c = report.counts
    outcome: RunOutcome
    if report.stopped and not finished:
        outcome, what = "stopped", "stopped; the rest is sent on the next run"
    elif finished:
        outcome, what = "sent", "complete"
    else:
        outcome, what = "incomplete", "deferred copies are retried on the next `digest send`"
    message = (
        f"issue {key}: {c['sent']} sent, {c['deferred']} deferred, {c['failed']} failed, "
        f"{c['unknown']} unknown in {took:.1f}s ({report.rate:.0f} msgs/s sending) — {what}"
    )
    return RunResult(
        key, outcome, message, reviews=reviews, recipients=report.total, sent=c["sent"],
        failed=c["failed"], deferred=c["deferred"], unknown=c["unknown"], skipped=c["skipped"],
        elapsed=took, rate=report.rate, problems=problems, warnings=warnings,
        totals=totals,
    )  # fmt: skip
