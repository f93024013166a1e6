"""Read one inbound message: a bounce, a complaint, a ``mailto:`` unsubscribe, an auto-reply,
or something a person should look at.

In this order:

1. ``multipart/report`` (RFC 6522). ``report-type=delivery-status`` is a DSN (RFC 3464): each
   per-recipient block's ``Action`` and ``Status`` decide — ``failed`` with 5.x.x is a hard
   bounce, ``delayed`` or 4.x.x a soft one; ``delivered``/``relayed``/``expanded`` are no
   failure. ``report-type=feedback-report`` is an ARF complaint (RFC 5965) when its
   ``Feedback-Type`` is ``abuse`` or ``fraud``.
2. A subject of exactly ``unsubscribe-<token>``: the ``mailto:`` half of List-Unsubscribe.
3. An auto-reply (RFC 3834 ``Auto-Submitted``, the ``X-Autoreply`` family, ``Precedence:
   auto_reply``, "Out of office" / "Automatic reply" subjects) that is not from a mailer daemon:
   never a bounce, whatever its text says.
4. The non-standard bounces big providers and old MTAs send (Exim, qmail, Yahoo, …), through
   flufl.bounce's detectors (GNU Mailman's): permanent failures are hard bounces, temporary
   ones soft.
5. Anything else is ``unknown``: it changes nothing and stays in the mailbox.

Besides the addresses, a report's quoted original is searched for our unsubscribe token and
Message-ID, which name the subscriber when the address is hidden (complaints often redact it).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from typing import Any

from flufl.bounce import all_failures

from digest.status import InboundKind

# flufl.bounce logs a detector that trips over an odd message (an empty one: Yale's reads a
# From it doesn't have) with a traceback, which Python would print on stderr. For us that
# detector simply found nothing, and the message is judged by the others.
_FLUFL_LOG = logging.getLogger("flufl.bounce")
_FLUFL_LOG.addHandler(logging.NullHandler())
_FLUFL_LOG.propagate = False

#: Our unsubscribe tokens (``secrets.token_urlsafe(32)``) where our copies carry them.
_TOKEN_IN_TEXT = re.compile(r"(?:/unsubscribe/|subject=unsubscribe-)([A-Za-z0-9_-]{43})\b")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\s*unsubscribe-([A-Za-z0-9_-]{43})\s*", re.IGNORECASE)
#: The Message-IDs digest writes: ``<2026-W48.<24 hex>@domain>`` (16 before schema 2).
_OUR_MESSAGE_ID = re.compile(r"<[0-9A-Za-z-]+\.[0-9a-f]{16,32}@[A-Za-z0-9.-]+>")
#: A VERP return path (``deliver.message.verp_address``): ``local+<issue>=<token>@domain``.
_VERP = re.compile(r"\+([A-Za-z0-9-]{1,40})=([A-Za-z0-9_-]{43})@")
#: Where a bounce shows the address it came back to (the envelope recipient).
_ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "To", "Return-Path")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_AUTO_SUBJECT = re.compile(
    r"^(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|"
    r"autoreply|vacation|abwesenheit|absence)",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
_COMPLAINT_TYPES = frozenset({"abuse", "fraud"})


@dataclass(frozen=True, slots=True)
class Reading:
    kind: InboundKind
    #: This message's own Message-ID (else ``sha256:`` of its bytes): one effect per message.
    source: str
    recipients: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    #: Unsubscribe tokens from the VERP address the report came back to: the surest match.
    verp: tuple[str, ...] = ()
    #: The status code and the server's words, or the complaint's type: the evidence.
    detail: str = ""
    evidence: dict[str, str] = field(default_factory=dict)


def read_message(data: bytes) -> Reading:
    """What ``data`` (one whole message, as fetched) is."""
    msg = message_from_bytes(data, policy=policy.compat32)
    source = _one_line(msg.get("Message-ID", "")) or "sha256:" + hashlib.sha256(data).hexdigest()
    text = _all_text(msg)
    tokens = tuple(dict.fromkeys(_TOKEN_IN_TEXT.findall(text)))
    own_id = _one_line(msg.get("Message-ID", ""))
    ids = tuple(dict.fromkeys(m for m in _OUR_MESSAGE_ID.findall(text) if m != own_id))
    evidence = {
        "message_id": source,
        "from": _one_line(msg.get("From", ""))[:200],
        "subject": _one_line(msg.get("Subject", ""))[:200],
        "date": _one_line(msg.get("Date", ""))[:100],
    }
    verp = _verp(msg)
    if verp:
        evidence["issue"] = verp[0][0]
    base = Reading("unknown", source, (), tokens, ids, verp=tuple(t for _, t in verp),
                   evidence=evidence)  # fmt: skip
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _dsn(msg, base)
        if report_type == "feedback-report":
            return _feedback(msg, base)
    subject = _one_line(msg.get("Subject", ""))
    if m := _UNSUBSCRIBE_SUBJECT.fullmatch(subject):
        return _with(base, "unsubscribe", tokens=(m.group(1),), detail="mailto: unsubscribe")
    sender = _address(msg.get("From", ""))
    if _is_auto_reply(msg, subject) and not _DAEMON.match(sender):
        return _with(base, "auto-reply", detail="auto-reply")
    return _non_standard(msg, base)


def _verp(msg: Message) -> list[tuple[str, str]]:
    """(issue key, token) of each VERP address the report, or its quoted original, names as
    its envelope recipient or return path."""
    found: list[tuple[str, str]] = []
    for part in msg.walk():
        for name in _ENVELOPE_HEADERS:
            for value in part.get_all(name) or []:
                found.extend(_VERP.findall(str(value)))
    return list(dict.fromkeys(found))


def _dsn(msg: Message, base: Reading) -> Reading:
    hard: list[str] = []
    soft: list[str] = []
    details: list[str] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            action = _one_line(block.get("Action", "")).lower()
            status = _one_line(block.get("Status", ""))
            address = _typed_address(block.get("Final-Recipient") or "")
            original = _typed_address(block.get("Original-Recipient") or "")
            if not address and not original:
                continue  # the per-message block
            code = _STATUS.search(status)
            failed = action == "failed" or (code is not None and code.group(1) == "5")
            delayed = action == "delayed" or (code is not None and code.group(1) == "4")
            if action in ("delivered", "relayed", "expanded") or not (failed or delayed):
                continue
            (hard if failed and action != "delayed" else soft).extend(
                a for a in (address, original) if a
            )
            diagnostic = _one_line(block.get("Diagnostic-Code", ""))
            details.append(f"{action} {status} {diagnostic}".strip())
    detail = "; ".join(details)[:500]
    if hard:
        return _with(base, "hard-bounce", recipients=tuple(dict.fromkeys(hard)), detail=detail)
    if soft:
        return _with(base, "soft-bounce", recipients=tuple(dict.fromkeys(soft)), detail=detail)
    return base


def _feedback(msg: Message, base: Reading) -> Reading:
    for part in msg.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _report_fields(part)
        kind = fields.get("feedback-type", "").lower()
        if kind not in _COMPLAINT_TYPES:
            return _with(base, "unknown", detail=f"feedback report of type {kind or '?'}")
        recipients = [_address(fields.get("original-rcpt-to", ""))]
        detail = f"feedback report: {kind} from {fields.get('user-agent', '?')}"[:500]
        found = tuple(a for a in recipients if a)
        return _with(base, "complaint", recipients=found, detail=detail)
    return base


def _report_fields(part: Message) -> dict[str, str]:
    """The fields of a ``message/feedback-report`` part, however the parser held them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        pairs: dict[str, str] = {}
        for block in payload:
            if not isinstance(block, Message):
                continue
            for key, value in block.items():
                pairs.setdefault(key.lower(), _one_line(value))
        return pairs
    text = payload if isinstance(payload, str) else ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found.setdefault(key.strip().lower(), value.strip())
    return found


def _non_standard(msg: Message, base: Reading) -> Reading:
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on odd input is no bounce; a person can look
        return base
    if permanent:
        found = tuple(sorted(a.decode("utf-8", "replace") for a in permanent))
        return _with(base, "hard-bounce", recipients=found, detail="non-standard bounce")
    if temporary:
        found = tuple(sorted(a.decode("utf-8", "replace") for a in temporary))
        return _with(base, "soft-bounce", recipients=found, detail="non-standard delay notice")
    return base


def _is_auto_reply(msg: Message, subject: str) -> bool:
    auto = _one_line(msg.get("Auto-Submitted", "no")).lower()
    if auto and auto != "no":
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if _one_line(msg.get("Precedence", "")).lower() in ("auto_reply", "auto-reply"):
        return True
    return bool(_AUTO_SUBJECT.match(subject))


def _with(base: Reading, kind: InboundKind, **changes: Any) -> Reading:
    detail = str(changes.get("detail", base.detail))
    return replace(base, kind=kind, evidence={**base.evidence, "detail": detail}, **changes)


def _all_text(msg: Message) -> str:
    """Every text part, header block and quoted original, as text (for tokens and IDs)."""
    out: list[str] = []
    for part in msg.walk():
        out.extend(f"{k}: {v}" for k, v in part.items())
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload.decode("utf-8", "replace"))
    return "\n".join(out)[:2_000_000]


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _address(value: str) -> str:
    found = getaddresses([_one_line(value)])
    address = found[0][1] if found else ""
    return address.lower() if "@" in address else ""


def _typed_address(value: str) -> str:
    """``rfc822; user@example.org`` → ``user@example.org``."""
    _, _, address = _one_line(value).rpartition(";")
    return _address(address.strip())
