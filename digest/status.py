"""Every status digest stores or compares, typed in one place.

The ledger's ``CHECK`` constraints (``state/db.py``) hold the same values; a status is never a
bare string compared across modules, so a misspelling is a mypy error, not a silent branch.
"""

from __future__ import annotations

from typing import Literal, get_args

#: A subscriber: only ``active`` ones get an issue. ``pending`` signed up and has not confirmed
#: yet; ``complained`` marked an issue as spam (a feedback report); ``erased`` is the tombstone
#: left by ``digest subscribers erase`` so the ledger's counts still add up.
SubscriberStatus = Literal["pending", "active", "unsubscribed", "bounced", "complained", "erased"]
#: Statuses that are never mailed an issue and never brought back by an import.
SUPPRESSED: tuple[SubscriberStatus, ...] = ("unsubscribed", "bounced", "complained", "erased")

#: One line of a subscriber's history (the ``events`` table): what happened, with evidence.
EventKind = Literal[
    "signup",  # asked to subscribe on the web form (a confirmation mail went out)
    "confirmed",  # pressed the button on the confirmation link (evidence: the welcome mail)
    "soft-bounce",  # a temporary delivery failure (4.x.x, "delayed"); counted within a window
    "hard-bounce",  # a permanent one (5.x.x, "failed"); the address is marked bounced
    "complaint",  # a feedback report (ARF, "this is spam")
    "unsubscribed",  # the mailto: half of List-Unsubscribe
]

#: What one inbound message was read as. ``auto-reply`` (out of office, vacation notes) and
#: ``unknown`` change nothing; ``unknown`` messages are left where they are for a person.
InboundKind = Literal[
    "hard-bounce", "soft-bounce", "complaint", "unsubscribe", "auto-reply", "unknown"
]

#: An issue in the ledger: ``sending`` until every copy is final, then ``done``; ``empty``
#: when its period had nothing to send (recorded so the week is never built again).
IssueStatus = Literal["sending", "done", "empty"]

#: An issue awaiting or past an editor's approval (``schedule.approval: required``; the
#: ``approvals`` table): ``proofed`` when prepared and a ``[PROOF]`` went to the editors,
#: ``approved`` (frozen: this rendering is what goes out), ``held`` when its send time came
#: first. Once it is sending, the ``issues`` table says where it stands.
ApprovalStatus = Literal["proofed", "approved", "held"]

#: Where a period's issue stands, as ``digest preview`` and ``/preview`` show it.
IssueStage = Literal["collecting", "proofed", "approved", "held", "sending", "sent", "empty"]

#: One (issue, subscriber) copy: ``pending → sending → sent | deferred | failed | unknown |
#: skipped``; ``unknown`` is a drop after the final "." (only re-sent on request).
DeliveryStatus = Literal["pending", "sending", "sent", "deferred", "failed", "unknown", "skipped"]

#: What one attempt to hand a copy to the server came to (``retry``: a 4xx worth repeating).
AttemptStatus = Literal["sent", "retry", "failed", "unknown"]

#: Copies in one of these are never sent again automatically.
FINAL_DELIVERY: tuple[DeliveryStatus, ...] = ("sent", "failed", "unknown", "skipped")
#: Every delivery status, in the order ``digest history`` shows them.
DELIVERY_ORDER: tuple[DeliveryStatus, ...] = (
    "sent",
    "deferred",
    "failed",
    "unknown",
    "skipped",
    "pending",
    "sending",
)

#: What one run did (a ``runs`` row, the CLI's summary, the scheduler's log line).
RunOutcome = Literal[
    "sent",  # every copy final
    "incomplete",  # deferred copies wait for a retry
    "stopped",  # SIGTERM / Ctrl-C mid-send; the rest goes on the next run
    "already-sent",  # the period's issue was done before this run
    "empty",  # nothing new (recorded as an empty issue)
    "no-sources",  # every source failed; nothing recorded, the next run tries again
    "no-subscribers",  # nothing recorded; the reviews wait for the next issue
    "busy",  # another process holds the send lock
    "cancelled",  # the operator said no at the prompt
    "error",  # a DigestError ended the run
    "skipped",  # a scheduled run missed by more than the grace (recorded by the tick)
    "held",  # approval required and not given: nothing sent, the editors told
    "proofed",  # the issue was prepared and a [PROOF] sent to the editors
    "frozen",  # a prepare found the issue approved: what was approved goes out
]

#: Outcomes worth another try soon rather than at the next scheduled firing.
#: ``held``: the scheduler looks again soon, so an issue approved late still goes out in grace.
RETRY_OUTCOMES: frozenset[RunOutcome] = frozenset(
    {"incomplete", "no-sources", "busy", "error", "held"}
)
#: Outcomes a command reports as a failure (exit code 1).
FAILED_OUTCOMES: frozenset[RunOutcome] = frozenset({"error", "no-sources"})

#: What started a run: ``digest send`` (manual), ``digest run``, the scheduler's firing, its
#: catch-up after a late start, or the resume of an interrupted issue.
#: ``prepare``: the scheduler's ``schedule.prepare`` firing or ``digest prepare``; ``approve``:
#: the send of a held issue right after ``digest approve``.
RunTrigger = Literal["manual", "run", "schedule", "catch-up", "resume", "prepare", "approve"]


def values(kind: object) -> tuple[str, ...]:
    """The strings a ``Literal`` allows, e.g. for a SQL ``CHECK`` or a ``--status`` choice."""
    return tuple(str(v) for v in get_args(kind))
