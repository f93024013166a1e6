"""The editor's approval (``schedule.approval: required``): prepare and proof an issue, and
the gate every send passes.

- ``prepare_for_approval`` collects, selects and renders the period's issue as a send would
  (``pipeline.issue``), keeps that rendering in ``state.approvals`` and mails a ``[PROOF]``
  with a signed, single-use approve link to each of ``schedule.editors`` — through the
  configured transport, never to a subscriber, never recorded as a delivery. Preparing again
  replaces an unapproved rendering (a new proof, a new link); an approved one is frozen.
- ``gate`` is asked by every send (``run_once``: the scheduler, ``digest run``, ``digest
  send``) before it builds an issue: an approved issue goes out as approved, whatever the
  sources say now; an unapproved one is held (``on_unapproved: hold``, the editors told once)
  or sent as proofed (``send``, the editors told).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from digest.config import Config
from digest.deliver import Transport, make_transport
from digest.deliver.message import DkimSigner
from digest.deliver.notice import build_notice, send_notice
from digest.errors import DeliveryError, DigestError
from digest.models import Period, plural
from digest.pipeline.issue import existing_state, prepare_issue
from digest.render.note import note_path
from digest.render.proof import PROOF_PREFIX, held_parts, proof_parts, unapproved_parts
from digest.state import approvals, db, ledger
from digest.state.approvals import Approval
from digest.state.db import Connection
from digest.state.ledger import IssueDraft
from digest.status import IssueStage

log = logging.getLogger("digest.approval")


def approve_url(config: Config, token: str) -> str:
    """The public page that approves with ``token``: ``{base_url}/approve/{token}``."""
    return f"{config.newsletter.base_url}/approve/{token}"


@dataclass(frozen=True, slots=True)
class Proofed:
    """What ``prepare_for_approval`` did: ``proofed`` (with the token mailed), or why not."""

    key: str
    outcome: str  # "proofed" | "no-sources" | "nothing-new" | "stored"
    message: str
    token: str = ""
    reviews: int = 0


def prepare_for_approval(
    config: Config,
    period: Period,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
) -> Proofed:
    """Prepare ``period``'s issue for approval and proof it; ``DigestError`` when it is frozen
    (approved) or already sent."""
    key = period.key
    conn = db.open_for(config)
    try:
        frozen(conn, key)
        prepared = prepare_issue(config, period, now=now, conn=conn, client=client)
        if prepared.state != "ready" or prepared.rendered is None:
            return Proofed(key, prepared.state, prepared.why_nothing)
        draft = IssueDraft.of(prepared.rendered)
        token = approvals.store_proof(conn, draft, now=now, path=config.state)
        if token is None:  # approved meanwhile, by another process
            frozen(conn, key)
            raise DigestError(f"issue {key} was approved meanwhile; nothing was prepared")
    finally:
        conn.close()
    send_proof(config, draft, token, transport=transport)
    editors = ", ".join(config.schedule.editors)
    return Proofed(
        key, "proofed",
        f"issue {key} prepared with {plural(len(draft.reviews), 'review')}; a [PROOF] went to "
        f"{editors}; approve it with the link in the proof or `digest approve {key}`",
        token, len(draft.reviews),
    )  # fmt: skip


def frozen(conn: Connection, key: str) -> None:
    """Refuse to prepare an issue that is approved (frozen) or already recorded."""
    stored = ledger.get_issue(conn, key)
    if stored is not None:
        what = {"done": "sent", "sending": "being sent", "empty": "recorded empty"}
        raise DigestError(f"issue {key} is already {what[stored.status]}; nothing to prepare")
    found = approvals.get(conn, key)
    if found is not None and found.status == "approved":
        raise DigestError(
            f"issue {key} is approved and frozen: what was approved goes out as it is; "
            f"`digest reset --issue {key} --yes` forgets it (and the approval) to start again"
        )


def send_proof(
    config: Config, draft: IssueDraft, token: str, *, transport: Transport | None = None
) -> None:
    """One ``[PROOF]`` per editor; a refusal is a ``DeliveryError`` naming the address."""
    html, text = proof_parts(
        draft.html, draft.text, draft.markers, base_url=config.newsletter.base_url,
        key=draft.period.key, link=approve_url(config, token),
    )  # fmt: skip
    subject = PROOF_PREFIX + draft.subject
    _to_editors(config, subject, text, html, "proof", transport)


def _to_editors(
    config: Config, subject: str, text: str, html: str, kind: str, transport: Transport | None
) -> None:
    transport = transport or make_transport(config)
    signer = None if config.dkim is None else DkimSigner.from_config(config.dkim)
    for editor in config.schedule.editors:
        data, message_id = build_notice(
            config, editor, subject, text, html, when=datetime.now(UTC), kind=kind
        )
        send_notice(config, transport, editor, data, message_id, signer)


@dataclass(frozen=True, slots=True)
class Gate:
    """What a send does about approval: go on as usual (neither set), send ``draft`` (the
    approved, or proofed, rendering), or hold (``held`` says why, one line)."""

    draft: IssueDraft | None = None
    held: str = ""


def gate(
    config: Config,
    conn: Connection,
    period: Period,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    transport: Transport | None = None,
) -> Gate:
    """Asked by a send when ``period`` has no issue in the ledger yet; ``now`` is the time the
    send is for (the scheduled time)."""
    schedule = config.schedule
    if schedule.approval != "required":
        return Gate()
    key = period.key
    found = approvals.get(conn, key)
    if found is not None and found.status == "approved":
        return Gate(draft=found.draft)
    if schedule.on_unapproved == "send":
        if found is not None:
            _tell(config, *unapproved_parts(key, found.draft.subject), transport)
        return Gate(draft=found.draft if found is not None else None)
    if found is None:  # never prepared: prepare it now, so the editors have something to approve
        proofed = prepare_for_approval(config, period, now=now, client=client, transport=transport)
        if proofed.outcome != "proofed":
            return Gate()  # nothing to approve: the send reports the empty or broken period
        found = approvals.get(conn, key)
        assert found is not None
    first = approvals.hold(conn, key, due=now, now=datetime.now(UTC), path=config.state)
    found = approvals.get(conn, key) or found
    deadline = held_deadline(config, found)
    if first:  # the proof's link still works: the note points back to it
        _tell(config, *held_parts(key, found.draft.subject, deadline), transport)
    return Gate(
        held=f"issue {key} held: not approved (schedule.approval: required), nothing sent; "
        f"approve it by {deadline} with `digest approve {key}` or the link sent to the editors, "
        "and it goes out then"
    )


def held_deadline(config: Config, found: Approval) -> str:
    """``Mon 07 Dec 2026 14:00 CET``: the end of the grace after the held send time."""
    due = datetime.fromisoformat(found.due_at) if found.due_at else datetime.now(UTC)
    last = (due + config.schedule.grace_period).astimezone(config.newsletter.tz)
    return last.strftime("%a %d %b %Y %H:%M %Z")


def _tell(config: Config, subject: str, text: str, html: str, transport: Transport | None) -> None:
    """A short note to the editors; a mail server refusing it is logged, never fatal."""
    try:
        _to_editors(config, subject, text, html, "editor", transport)
    except DeliveryError as e:
        log.error("note to the editors not sent: %s", e)


@dataclass(frozen=True, slots=True)
class Stage:
    """Where issue ``key`` stands, for ``digest preview`` and ``/preview``: ``stage`` (see
    ``status.IssueStage``), a line saying more, its note file if there is one, and the
    approved rendering when it is frozen."""

    key: str
    stage: IssueStage
    detail: str
    note: str
    frozen: IssueDraft | None = None

    @property
    def line(self) -> str:
        """``Issue 2026-W49: proofed — … · note: notes/2026-W49.md``"""
        return f"Issue {self.key}: {self.stage} — {self.detail} · {self.note}"


def issue_stage(config: Config, key: str) -> Stage:
    """Read-only: the ledger and the approvals say where issue ``key`` is."""
    with existing_state(config) as conn:
        stored = ledger.get_issue(conn, key) if conn is not None else None
        found = approvals.get(conn, key) if conn is not None else None
    path = note_path(config, key)
    note = f"note: {path.name}" if path.exists() else f"no note ({path.name} in {path.parent})"
    tz = config.newsletter.tz

    def at(value: str | None) -> str:
        when = datetime.fromisoformat(value) if value else datetime.now(UTC)
        return when.astimezone(tz).strftime("%a %d %b %H:%M")

    if stored is not None:
        stages: dict[str, IssueStage] = {"done": "sent", "sending": "sending", "empty": "empty"}
        stage = stages[stored.status]
        return Stage(key, stage, f"recorded {at(stored.created_at)}: {stored.subject}", note)
    if found is None:
        required = config.schedule.approval == "required"
        what = "proofed at schedule.prepare" if required else "sent at schedule.cron"
        return Stage(key, "collecting", f"not prepared yet; {what}", note)
    if found.status == "approved":
        detail = (
            f"approved {at(found.approved_at)} ({found.approved_by}); frozen, shown as approved"
        )
        return Stage(key, "approved", detail, note, found.draft)
    if found.status == "held":
        detail = f"held since {at(found.held_at)}; approve by {held_deadline(config, found)}"
        return Stage(key, "held", detail, note)
    detail = f"proof sent {at(found.prepared_at)}, waiting for approval (rendered live until then)"
    return Stage(key, "proofed", detail, note)
