"""``digest inbound``: act on one message from standard input (``process_message``), or read
the bounce mailbox once (``--imap``, ``process_mailbox``).

For each message not handled yet: read it (``report.read_message``), find the subscriber it is
about, record the event with its evidence (once per message, so a mailbox read twice counts
nothing twice), and only then move the message to the processed folder. An auto-reply is
understood and moved, changing nothing. A message digest can't read, or that matches no
subscriber, is marked and left in place for a person. The connection dropping mid-way stops
the run with an ``InboundError``; everything recorded so far stays recorded, and the next run
picks up the rest. On standard input there is no place to leave a message, so one that is not
understood is reported back (``InboundReport.left``) and the command exits 1: the MTA that
piped it in keeps or returns it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.config import Config
from digest.errors import ConfigError, UnhandledMessage
from digest.inbound.imap import Mailbox
from digest.inbound.report import Reading, read_message
from digest.state import events
from digest.state.db import Connection, open_for

#: Temporary failures (within ``events.SOFT_WINDOW``) before an address counts as bounced,
#: with no ``inbound:`` section.
SOFT_LIMIT = 3


@dataclass
class InboundReport:
    #: How many messages of each kind were handled (moved to the processed folder).
    handled: Counter[str] = field(default_factory=Counter)
    #: Left for a person: (why, the message's subject).
    left: list[tuple[str, str]] = field(default_factory=list)
    #: What changed: (address, kind, status after) for each new effect.
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    repeated: int = 0


def process_mailbox(
    config: Config, *, now: datetime, mailbox: Callable[[], Mailbox] | None = None
) -> InboundReport:
    """One pass over ``inbound.folder``."""
    settings = config.inbound
    if settings is None:
        raise ConfigError(
            str(config.path), "no inbound: section; add one naming the IMAP mailbox that "
            "receives bounces (see the README)", key="inbound",
        )  # fmt: skip

    def default() -> Mailbox:
        host, username, password = settings.account(str(config.path))
        return Mailbox(settings, host, username, password, folder_of_config=config.folder)

    opened = mailbox or default
    report = InboundReport()
    conn = open_for(config)
    try:
        with opened() as box:
            for uid in box.waiting():
                data = box.fetch(uid)
                if data is None:
                    continue
                reading = read_message(data)
                if handle(conn, reading, report, now=now, soft_limit=settings.soft_bounce_limit,
                          soft_window=settings.soft_bounce_period):  # fmt: skip
                    box.done(uid)
                else:
                    box.skip(uid)
    finally:
        conn.close()
    return report


def process_message(config: Config, data: bytes, *, now: datetime) -> InboundReport:
    """One message handed over whole (``digest inbound``, e.g. piped in by the MTA
    that receives the VERP return path): read it and act on it like a mailbox message.
    ``UnhandledMessage`` when there is no message at all."""
    if not data.strip():
        raise UnhandledMessage(
            "no message on standard input; pipe one in (digest inbound < bounce.eml) or pass "
            "--imap to read the inbound: mailbox"
        )
    settings = config.inbound
    limit = settings.soft_bounce_limit if settings is not None else SOFT_LIMIT
    window = settings.soft_bounce_period if settings is not None else events.SOFT_WINDOW
    report = InboundReport()
    conn = open_for(config)
    try:
        handle(conn, read_message(data), report, now=now, soft_limit=limit, soft_window=window)
    finally:
        conn.close()
    return report


def handle(
    conn: Connection, reading: Reading, report: InboundReport, *, now: datetime,
    soft_limit: int, soft_window: timedelta = events.SOFT_WINDOW,
) -> bool:  # fmt: skip
    """Act on one reading; ``True`` when it was understood (the message may be moved)."""
    subject = reading.evidence.get("subject", "")
    if reading.kind == "auto-reply":
        report.handled["auto-reply"] += 1
        return True
    if reading.kind == "unknown":
        report.left.append(("not a bounce, complaint or unsubscribe", subject))
        return False
    # An unsubscribe request names its subscriber by token only: an address in it proves nothing.
    bounce = reading.kind != "unsubscribe"
    addresses = reading.recipients if bounce else ()
    verp = reading.verp if bounce else ()
    found = events.match(conn, addresses, reading.tokens, reading.message_ids, verp)
    if found is None:
        report.left.append((f"{reading.kind} that matches no subscriber", subject))
        return False
    applied = events.apply_report(
        conn, found, reading.kind, at=now, source=reading.source, detail=reading.detail,
        evidence=reading.evidence, soft_limit=soft_limit, soft_window=soft_window,
    )  # fmt: skip
    report.handled[reading.kind] += 1
    if applied.repeated:
        report.repeated += 1
    else:
        report.changes.append((applied.email, applied.kind, applied.status))
    return True
