"""A dry run and a test copy: what ``digest send`` would do, without touching the issue's ledger.

Both ask ``pipeline.issue`` for the period's issue exactly as a send would (an issue already
recorded answers with its stored rendering), and neither records anything: a dry run lists
whom the send would reach, a test copy goes to one address marked ``[TEST]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from digest.config import Config
from digest.deliver import Transport, make_transport
from digest.deliver.message import MessageTemplate, Recipient
from digest.deliver.stuffing import Copy
from digest.errors import DeliveryError, NothingCollected
from digest.period import current_period
from digest.pipeline.issue import PreparedIssue, prepare_issue
from digest.pipeline.run import Plan, dkim_signer, message_template, wall_clock
from digest.state import db, deliveries
from digest.state.db import Connection
from digest.state.subscribers import get as get_subscriber
from digest.state.subscribers import normalise_address


@dataclass(frozen=True, slots=True)
class DryRun:
    plan: Plan
    recipients: tuple[tuple[str, str, str], ...]  # (email, name, status), the first few
    note: str = ""


def _prepared(
    config: Config,
    *,
    now: datetime,
    client: httpx.Client | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[PreparedIssue, Connection]:
    period = current_period(config, now, since=since, until=until)
    conn = db.open_for(config)
    try:
        # No remember: a look must not move the real runs' remembered ETags.
        prepared = prepare_issue(
            config, period, now=now, conn=conn, client=client, whole_window=since is not None,
            use_stored=True,
        )  # fmt: skip
    except BaseException:
        conn.close()
        raise
    return prepared, conn


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
    prepared, conn = _prepared(config, now=now, client=client, since=since, until=until)
    try:
        key = prepared.period.key
        where = "Maildir " + str(config.outbox) if config.smtp is None else config.smtp.host
        note = prepared.why_nothing
        if prepared.broken:
            raise NothingCollected(note)
        if note:
            return DryRun(Plan(key, "", 0, 0, False, where), (), note)
        stored = prepared.stored if prepared.state == "stored" else None
        if stored is not None:
            subject, reviews = stored.subject, stored.review_count
        else:
            assert prepared.rendered is not None
            subject, reviews = prepared.rendered.subject, len(prepared.rendered.reviews)
        shown: list[tuple[str, str, str]] = []
        total = 0
        for row in deliveries.recipients(conn, key if stored is not None else None):
            total += 1
            if len(shown) < limit:
                shown.append((row["email"], row["name"], row["status"]))
        return DryRun(Plan(key, subject, reviews, total, stored is not None, where), tuple(shown))
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
    transport = transport or make_transport(config)
    prepared, conn = _prepared(config, now=now, client=client, since=since, until=until)
    try:
        subscriber = get_subscriber(conn, address)
    finally:
        conn.close()
    template = _test_template(config, prepared)
    token = subscriber.token if subscriber is not None else "test-copy"
    name = subscriber.name if subscriber is not None else ""
    first = subscriber.first_name if subscriber is not None else ""
    message_id = template.message_id(address)
    data = template.render(Recipient(address, name, token, first), message_id)
    session = transport.open()
    try:
        attempt = session.send(template.sender, address, Copy.of(data), message_id)
    finally:
        session.close()
    if attempt.status != "sent":
        raise DeliveryError(f"test copy to {address} not delivered: {attempt.reason}")
    key = prepared.period.key
    return f"test copy of {key} sent to {address} via {transport.describe()}"


def _test_template(config: Config, prepared: PreparedIssue) -> MessageTemplate:
    """The test copy's message: the stored issue's rendering, else the fresh one."""
    stored = prepared.stored
    if prepared.state == "stored" and stored is not None and stored.status != "empty":
        return message_template(config, stored, dkim_signer(config), test_copy=True)
    if prepared.rendered is None:
        raise DeliveryError(f"no test copy sent: {prepared.why_nothing}")
    return MessageTemplate.of_rendering(
        config, prepared.rendered, date=wall_clock(), test_copy=True, signer=dkim_signer(config)
    )
