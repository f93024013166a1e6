"""One run: collect → select → render → ledger → send, or resume the period's issue.

The period key names the issue. An issue already ``done`` (or recorded ``empty``) is never
built again; one left ``sending`` (a crash, a stop, deferred copies) is resumed from the
rendering stored in the ledger — a started issue is never re-rendered. A new issue is read,
selected and rendered completely before anything is written; then the issue, one ``pending``
row per active subscriber and its reviews are recorded in ONE transaction (fail closed: if that
write fails, nothing is sent and the ``StateError`` names the file), and only then does the
first message leave.

A send lock (``<state>.send.lock``, an ``flock`` the kernel drops if the process dies) keeps a
second sender off the ledger while one is at work; the atomic row claims in ``ledger`` are the
second guard.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout

from digest.config import Config
from digest.deliver import DeliveryReport, Transport, deliver, make_transport
from digest.deliver.message import DkimSigner, MessageTemplate, Recipient
from digest.errors import DeliveryError, DigestError, StateError
from digest.models import Markers, Period, Problem, RenderedDigest
from digest.period import current_period
from digest.state import db, ledger
from digest.state.subscribers import get as get_subscriber
from digest.state.subscribers import normalise_address

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
    """What one run did. ``outcome``: sent, incomplete, already-sent, empty, no-sources,
    no-subscribers, busy, cancelled, stopped."""

    issue_id: str
    outcome: str
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


def send_lock_path(config: Config) -> Path:
    return config.state.with_name(config.state.name + ".send.lock")


def run_once(
    config: Config,
    *,
    now: datetime,
    trigger: str = "manual",
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
    conn = db.connect(config.state)
    try:
        if issue is None:
            period = current_period(config, now, since=since, until=until)
        else:
            period = _stored_period(conn, issue)
        # An explicit --since is the whole window; otherwise it reaches back to what the
        # previous issue left out.
        carry_since = None if since is not None else ledger.carry_since(conn, period)
        ledger.tune_for_sending(conn)
        run_id = ledger.start_run(conn, trigger, now=now, path=config.state)
        try:
            result = _locked_run(
                config, conn, period, now=now, client=client, transport=transport,
                stop=stop, progress=progress, confirm=confirm, resend_unknown=resend_unknown,
                carry_since=carry_since,
            )  # fmt: skip
        except DigestError as e:
            ledger.finish_run(
                conn, run_id, issue_id=period.key, outcome="error", detail=str(e),
                path=config.state,
            )  # fmt: skip
            raise
        ledger.finish_run(
            conn, run_id, issue_id=period.key, outcome=result.outcome, detail=result.message,
            path=config.state,
        )  # fmt: skip
        others = conn.execute(
            "SELECT id FROM issues WHERE status = 'sending' AND id != ? ORDER BY id", (period.key,)
        )
        return dataclasses.replace(result, unfinished=tuple(r[0] for r in others))
    finally:
        conn.close()


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _stored_period(conn: sqlite3.Connection, key: str) -> Period:
    row = conn.execute(
        "SELECT period_start, period_end FROM issues WHERE id = ?", (key,)
    ).fetchone()
    if row is None:
        known = ", ".join(r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id DESC"))
        raise DeliveryError(
            f"there is no issue {key} to resume" + (f" (issues: {known})" if known else "")
        )
    start, end = datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1])
    return Period(key=key, start=start, end=end)


def _locked_run(config: Config, conn: sqlite3.Connection, period: Period, **kw: Any) -> RunResult:
    path = send_lock_path(config)
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        return RunResult(
            period.key,
            "busy",
            f"issue {period.key} is being sent by another digest process right now; "
            "nothing to do here (its ledger will show the result)",
        )
    except OSError as e:
        raise StateError(str(path), f"can't take the send lock ({e.strerror})") from e
    try:
        return _run(config, conn, period, **kw)
    finally:
        lock.release()


def _run(
    config: Config,
    conn: sqlite3.Connection,
    period: Period,
    *,
    now: datetime,
    client: httpx.Client | None,
    transport: Transport | None,
    stop: threading.Event | None,
    progress: Progress | None,
    confirm: Confirm | None,
    resend_unknown: bool,
    carry_since: datetime | None,
) -> RunResult:
    key = period.key
    if resend_unknown:
        ledger.reopen_unknown(conn, key, path=config.state)
    issue = ledger.get_issue(conn, key)
    if issue is not None and issue.status == "done":
        totals = ledger.counts(conn, key)
        return RunResult(
            key, "already-sent", f"issue {key} already sent to {totals['sent']} subscribers",
            reviews=issue.review_count, totals=totals,
        )  # fmt: skip
    if issue is not None and issue.status == "empty":
        return RunResult(key, "empty", f"issue {key} had nothing to send: {issue.note}")
    # Everything that can fail on configuration is done before the ledger is written.
    transport = transport or make_transport(config)
    signer = _signer(config)
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    if issue is None:
        built = _build(config, conn, period, now=now, client=client, carry_since=carry_since)
        if isinstance(built, RunResult):
            return built
        rendered, problems = built
        warnings = rendered.warnings
        if ledger.active_count(conn) == 0:
            return RunResult(
                key, "no-subscribers",
                "no active subscribers, so nothing was recorded or sent and the reviews wait "
                "for the next issue; add some with `digest subscribers import FILE.csv`",
                reviews=len(rendered.reviews), problems=problems, warnings=warnings,
            )  # fmt: skip
        plan = Plan(key, rendered.subject, len(rendered.reviews), ledger.active_count(conn),
                    False, transport.describe(), warnings)  # fmt: skip
        if confirm is not None and not confirm(plan):
            return RunResult(key, "cancelled", "cancelled; nothing was recorded or sent")
        ledger.record_issue(conn, rendered, now=_wall_clock(), path=config.state)
        issue = ledger.get_issue(conn, key)
        assert issue is not None
    else:
        ledger.prepare_resume(conn, key, path=config.state)
        remaining = ledger.counts(conn, key)["pending"]
        plan = Plan(key, issue.subject, issue.review_count, remaining, True, transport.describe())
        if confirm is not None and not confirm(plan):
            return RunResult(key, "cancelled", "cancelled; nothing was sent")
    template = MessageTemplate(
        config=config, issue_key=key, subject=issue.subject, html_body=issue.html,
        text_body=issue.text, markers=issue.markers, date=_wall_clock(),
    )  # fmt: skip
    report = deliver(
        conn, state=config.state, key=key, template=template, transport=transport,
        signer=signer, stop=stop, progress=progress,
    )  # fmt: skip
    finished = ledger.finish_if_complete(conn, key, now=_wall_clock(), path=config.state)
    if report.error is not None:
        raise report.error
    return _result(key, issue.review_count, report, ledger.counts(conn, key), finished,
                   problems, warnings)  # fmt: skip


def _build(
    config: Config,
    conn: sqlite3.Connection,
    period: Period,
    *,
    now: datetime,
    client: httpx.Client | None,
    carry_since: datetime | None = None,
) -> tuple[RenderedDigest, tuple[Problem, ...]] | RunResult:
    """Collect, select and render a new issue — or record why there is nothing to send."""
    from digest.collect.collection import collect
    from digest.pipeline.build import select_and_render
    from digest.render.compose import empty_period_message

    since, until = carry_since or period.start, period.end
    collection = collect(config, now=now, since=since, until=until, client=client, conn=conn)
    if collection.all_failed:
        return RunResult(
            period.key, "no-sources",
            "every source failed; nothing was recorded or sent, the next run tries again",
            problems=collection.problems,
        )  # fmt: skip
    _, rendered = select_and_render(
        config, period, collection, now=now, already_sent=ledger.sent_review_ids(conn),
        carry_since=carry_since,
    )  # fmt: skip
    if rendered is None:
        note = empty_period_message(period)
        ledger.record_empty(conn, period, note, now=_wall_clock(), path=config.state)
        return RunResult(period.key, "empty", note, problems=collection.problems)
    return rendered, collection.problems


def _signer(config: Config) -> DkimSigner | None:
    if config.dkim is None:
        return None
    return DkimSigner(config.dkim.domain, config.dkim.selector, config.dkim.key_file)


def _result(
    key: str,
    reviews: int,
    report: DeliveryReport,
    totals: dict[str, int],
    finished: bool,
    problems: tuple[Problem, ...],
    warnings: tuple[str, ...],
) -> RunResult:
    c = report.counts
    if report.stopped and not finished:
        outcome, what = "stopped", "stopped; the rest is sent on the next run"
    elif finished:
        outcome, what = "sent", "complete"
    else:
        outcome, what = "incomplete", "deferred copies are retried on the next `digest send`"
    message = (
        f"issue {key}: {c['sent']} sent, {c['deferred']} deferred, {c['failed']} failed, "
        f"{c['unknown']} unknown in {report.elapsed:.1f}s ({report.rate:.0f} msgs/s) — {what}"
    )
    return RunResult(
        key, outcome, message, reviews=reviews, recipients=report.total, sent=c["sent"],
        failed=c["failed"], deferred=c["deferred"], unknown=c["unknown"], skipped=c["skipped"],
        elapsed=report.elapsed, rate=report.rate, problems=problems, warnings=warnings,
        totals=totals,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Dry runs and test copies: never touch the issue's ledger
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DryRun:
    plan: Plan
    recipients: tuple[tuple[str, str, str], ...]  # (email, name, status), the first few
    note: str = ""


def _rendering(
    config: Config,
    conn: sqlite3.Connection,
    period: Period,
    *,
    now: datetime,
    client: httpx.Client | None,
    carry_since: datetime | None = None,
) -> tuple[str, str, str, Markers, int, bool] | str:
    """(subject, html, text, markers, reviews, stored) of the period's issue, or why none."""
    from digest.collect.collection import collect
    from digest.pipeline.build import select_and_render
    from digest.render.compose import empty_period_message

    issue = ledger.get_issue(conn, period.key)
    if issue is not None and issue.status in ("sending", "done"):
        return issue.subject, issue.html, issue.text, issue.markers, issue.review_count, True
    if issue is not None:
        return f"issue {period.key} had nothing to send: {issue.note}"
    # No conn for collect: a look must not move the real runs' remembered ETags.
    since, until = carry_since or period.start, period.end
    collection = collect(config, now=now, since=since, until=until, client=client)
    _, r = select_and_render(
        config, period, collection, now=now, already_sent=ledger.sent_review_ids(conn),
        carry_since=carry_since,
    )  # fmt: skip
    if r is None:
        return empty_period_message(period)
    return r.subject, r.html, r.text, r.markers, len(r.reviews), False


def dry_run(
    config: Config,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> DryRun:
    """What ``digest send`` would do now, and to whom — nothing is written."""
    period = current_period(config, now, since=since, until=until)
    conn = db.connect(config.state)
    try:
        carry = None if since is not None else ledger.carry_since(conn, period)
        found = _rendering(config, conn, period, now=now, client=client, carry_since=carry)
        issue = ledger.get_issue(conn, period.key)
        where = "Maildir " + str(config.outbox) if config.smtp is None else config.smtp.host
        if isinstance(found, str) or (issue is not None and issue.status == "done"):
            note = found if isinstance(found, str) else f"issue {period.key} already sent"
            return DryRun(Plan(period.key, "", 0, 0, False, where), (), note)
        subject, _, _, _, reviews, stored = found
        rows = ledger.recipients(conn, period.key if stored else None)
        shown: list[tuple[str, str, str]] = []
        total = 0
        for row in rows:
            total += 1
            if len(shown) < limit:
                shown.append((row["email"], row["name"], row["status"]))
        plan = Plan(period.key, subject, reviews, total, stored, where)
        return DryRun(plan, tuple(shown))
    finally:
        conn.close()


def send_test_copy(
    config: Config,
    address: str,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """Send one copy marked ``[TEST]`` to ``address``; the issue's ledger is not touched."""
    address = normalise_address(address)
    period = current_period(config, now, since=since, until=until)
    transport = transport or make_transport(config)
    conn = db.connect(config.state)
    try:
        carry = None if since is not None else ledger.carry_since(conn, period)
        found = _rendering(config, conn, period, now=now, client=client, carry_since=carry)
        subscriber = get_subscriber(conn, address)
    finally:
        conn.close()
    if isinstance(found, str):
        raise DeliveryError(f"no test copy sent: {found}")
    subject, html_body, text_body, markers, _, _ = found
    template = MessageTemplate(
        config=config, issue_key=period.key, subject=subject, html_body=html_body,
        text_body=text_body, markers=markers, date=_wall_clock(), test_copy=True,
    )  # fmt: skip
    token = subscriber.token if subscriber is not None else "test-copy"
    name = subscriber.name if subscriber is not None else ""
    data = template.render(Recipient(address, name, token))
    signer = _signer(config)
    if signer is not None:
        data = signer.sign(data)
    session = transport.open()
    try:
        attempt = session.send(template.sender, address, data, template.message_id(address))
    finally:
        session.close()
    if attempt.status != "sent":
        raise DeliveryError(f"test copy to {address} not delivered: {attempt.reason}")
    return f"test copy of {period.key} sent to {address} via {transport.describe()}"
