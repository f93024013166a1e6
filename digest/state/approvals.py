"""The ``approvals`` table (schema 4): an issue prepared for an editor's approval.

With ``schedule.approval: required`` an issue is rendered ahead of its send (``digest prepare``
or ``schedule.prepare``) and kept here exactly as the ``[PROOF]`` showed it — subject, HTML and
text with their recipient markers, and the identities of the reviews it carries — so the send
rebuilds the very same messages (``ledger.record_draft``). ``proofed`` may be prepared again
(a new rendering, a new proof, a new link); ``approved`` is frozen; ``held`` is a send time
that came before the approval.

The approve link is ``<issue>.<random>.<HMAC-SHA256 of both under the file's approve_key>``:
the signature lets a forged link be refused without a look-up, and the table keeps only the
SHA-256 of the current link, cleared when it is used, so a link works once and a re-prepare
makes the previous one worthless. The key is 32 random bytes made by migration 4 and kept in
``meta``; it never leaves the state file, so no secret needs configuring.

Owner of ``approvals`` and of the ``approve_key`` row of ``meta``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.models import Markers, Period
from digest.state.db import Connection, Where, stamp, transaction
from digest.state.ledger import IssueDraft
from digest.status import ApprovalStatus


@dataclass(frozen=True, slots=True)
class Approval:
    """One issue's row: where its approval stands and the rendering it holds."""

    key: str
    status: ApprovalStatus
    draft: IssueDraft
    prepared_at: str
    approved_at: str | None
    approved_by: str
    held_at: str | None
    due_at: str | None


def get(conn: Connection, key: str) -> Approval | None:
    row = conn.execute("SELECT * FROM approvals WHERE issue_id = ?", (key,)).fetchone()
    return None if row is None else _approval(row)


def awaiting(conn: Connection) -> list[Approval]:
    """Issues proofed or held, not yet approved, oldest first."""
    rows = conn.execute(
        "SELECT * FROM approvals WHERE status IN ('proofed', 'held') ORDER BY issue_id"
    )
    return [_approval(r) for r in rows]


def _approval(row: Any) -> Approval:
    markers = json.loads(row["markers"])
    draft = IssueDraft(
        period=Period(
            key=row["issue_id"],
            start=datetime.fromisoformat(row["period_start"]),
            end=datetime.fromisoformat(row["period_end"]),
        ),
        subject=row["subject"],
        preheader=row["preheader"],
        html=row["html"],
        text=row["text"],
        markers=Markers(
            unsubscribe_url=markers["unsubscribe_url"],
            name=markers["name"],
            greeting=markers.get("greeting", ""),
        ),
        reviews=tuple((title, tuple(ids)) for title, ids in json.loads(row["reviews"])),
    )
    return Approval(
        key=row["issue_id"], status=row["status"], draft=draft, prepared_at=row["prepared_at"],
        approved_at=row["approved_at"], approved_by=row["approved_by"], held_at=row["held_at"],
        due_at=row["due_at"],
    )  # fmt: skip


def store_proof(conn: Connection, draft: IssueDraft, *, now: datetime, path: Where) -> str | None:
    """Keep ``draft`` as the issue's proofed rendering, replacing an unapproved one; returns
    the new approve token, or ``None`` when the issue is already approved (frozen)."""
    key = draft.period.key
    token = _new_token(conn, key)
    values = (
        draft.period.start.isoformat(), draft.period.end.isoformat(), draft.subject,
        draft.preheader,
        json.dumps(
            {
                "unsubscribe_url": draft.markers.unsubscribe_url,
                "name": draft.markers.name,
                "greeting": draft.markers.greeting,
            }
        ),
        draft.html, draft.text, json.dumps([[t, list(ids)] for t, ids in draft.reviews]),
        _digest(token), stamp(now),
    )  # fmt: skip
    with transaction(conn, path):
        cur = conn.execute(
            """INSERT INTO approvals (issue_id, status, period_start, period_end, subject,
                   preheader, markers, html, text, reviews, token_hash, prepared_at)
               VALUES (?, 'proofed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (issue_id) DO UPDATE SET
                   period_start = excluded.period_start, period_end = excluded.period_end,
                   subject = excluded.subject, preheader = excluded.preheader,
                   markers = excluded.markers, html = excluded.html, text = excluded.text,
                   reviews = excluded.reviews, token_hash = excluded.token_hash,
                   prepared_at = excluded.prepared_at
               WHERE approvals.status != 'approved'""",
            (key, *values),
        )
    return token if cur.rowcount == 1 else None


def approve(conn: Connection, key: str, *, by: str, now: datetime, path: Where) -> Approval | None:
    """Approve issue ``key`` from the shell; ``None`` when it is not awaiting approval."""
    return _approve(conn, key, "", by=by, now=now, path=path)


def approve_by_token(
    conn: Connection, token: str, *, now: datetime, path: Where
) -> Approval | None:
    """Approve the issue a link names, once: ``None`` for a forged, used or replaced link."""
    found = check_token(conn, token)
    if found is None:
        return None
    return _approve(conn, found.key, _digest(token), by="approve link", now=now, path=path)


def _approve(
    conn: Connection, key: str, token_hash: str, *, by: str, now: datetime,
    path: Where,
) -> Approval | None:  # fmt: skip
    # An empty token_hash is the shell's approval (by issue key); a link must match its hash.
    with transaction(conn, path):
        cur = conn.execute(
            """UPDATE approvals SET status = 'approved', approved_at = ?, approved_by = ?,
                   token_hash = ''
               WHERE issue_id = ? AND status IN ('proofed', 'held')
                     AND (? = '' OR token_hash = ?)""",
            (stamp(now), by[:200], key, token_hash, token_hash),
        )
    return get(conn, key) if cur.rowcount == 1 else None


def check_token(conn: Connection, token: str) -> Approval | None:
    """The issue awaiting approval that ``token`` is the current link of, else ``None``."""
    key, _, rest = token.partition(".")
    nonce, _, signature = rest.partition(".")
    if not (key and nonce and signature) or len(token) > 200:
        return None
    if not hmac.compare_digest(signature, _sign(conn, key, nonce)):
        return None
    found = get(conn, key)
    if found is None or found.status == "approved":
        return None
    row = conn.execute("SELECT token_hash FROM approvals WHERE issue_id = ?", (key,)).fetchone()
    return found if hmac.compare_digest(row["token_hash"], _digest(token)) else None


def hold(conn: Connection, key: str, *, due: datetime, now: datetime, path: Where) -> bool:
    """Mark a proofed issue held at its send time ``due``; True the first time (tell the
    editors once), False when it was held already or is not awaiting approval."""
    with transaction(conn, path):
        cur = conn.execute(
            "UPDATE approvals SET status = 'held', held_at = ?, due_at = ? "
            "WHERE issue_id = ? AND status = 'proofed'",
            (stamp(now), due.isoformat(), key),
        )
    return cur.rowcount == 1


def forget(conn: Connection, key: str, *, path: Where) -> None:
    """Drop issue ``key``'s row (``digest reset --issue``)."""
    with transaction(conn, path):
        conn.execute("DELETE FROM approvals WHERE issue_id = ?", (key,))


def _new_token(conn: Connection, key: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{key}.{nonce}.{_sign(conn, key, nonce)}"


def _sign(conn: Connection, key: str, nonce: str) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'approve_key'").fetchone()
    secret = bytes.fromhex(row["value"])
    return hmac.new(secret, f"{key}.{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
