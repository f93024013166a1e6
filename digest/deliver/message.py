"""Build an issue's email once, then make each recipient's copy by substitution.

The message is assembled and serialised ONCE per issue with the stdlib ``email`` package
(multipart/alternative: text, then HTML). Each part's body is quoted-printable, encoded by
``render.wire`` (the same functions the clip guard measures with) rather than by ``email``, so
that every per-recipient slot (unsubscribe link, name) sits on a line of its own between two QP
*soft* line breaks. The serialised bytes are split once into literal chunks and slots; a
recipient's copy is the per-recipient headers + the chunks joined with that recipient's encoded
values — no re-rendering, no re-serialising. The chunks are dot-stuffed for SMTP once too
(``deliver.stuffing``): a copy stuffs only its own values.

Per-recipient headers (To, Message-ID, List-Unsubscribe) are formatted directly from values
checked here. To carries the bare address: the subscriber's name goes only into the body,
escaped, so nothing a subscriber or an import file supplies is ever encoded into a header.
The shared headers, the subject included, are built in ``deliver.headers``.

Message-IDs are unique per message ever sent and stable per copy: a hash of the list identity
(From address, base URL, title), the issue's nonce (random, stored with the issue), the issue
key and the address. A resumed or re-sent copy repeats its own id exactly; another issue,
another newsletter on the same domain, or the same week after a state reset never does.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from digest.config import Config
from digest.deliver.dkim import DkimSigner, PieceHasher
from digest.deliver.headers import (
    check_header_value,
    clean_subject,
    list_headers,
    list_identity,
    list_unsubscribe,
    subject_header,
)
from digest.deliver.stuffing import Copy, Piece
from digest.errors import RecipientError
from digest.models import Markers, RenderedDigest
from digest.render.wire import body_with_slots, qp_value

#: The ``name`` a template shows for a subscriber without one (the archive copy's word too).
FALLBACK_NAME = "reader"
#: The greeting line, for a subscriber whose first name is known (``greeting_for``).
GREETING = "Hello {first_name},"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def verp_address(return_path: str, issue_key: str, token: str) -> str:
    """``bounces@d`` → ``bounces+2026-W48=<token>@d``: the issue key (made safe for a local
    part) and the subscriber's unsubscribe token, read back by ``inbound.report``."""
    local, _, domain = return_path.rpartition("@")
    key = re.sub(r"[^A-Za-z0-9-]", "-", issue_key)
    return f"{local}+{key}={token}@{domain}"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One copy's reader. ``first_name``: the import file's ``first_name`` column, when it had
    one; otherwise the greeting uses the first word of ``name``."""

    email: str
    name: str
    token: str
    first_name: str = ""


def greeting_for(name: str, first_name: str = "") -> str:
    """``Hello Ada,`` for Ada Lumen (or for a ``first_name`` of Ada); nothing without a name, so
    no one is greeted as "reader" or by a full name."""
    first = " ".join(first_name.split()) or next(iter(name.split()), "")
    return GREETING.format(first_name=first) if first else ""


def _part(subtype: str, payload: str) -> EmailMessage:
    part = EmailMessage(policy=policy.SMTP)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(payload)
    return part


class MessageTemplate:
    """An issue's serialised message, split into literal chunks and per-recipient slots."""

    @classmethod
    def of_rendering(
        cls,
        config: Config,
        rendered: RenderedDigest,
        *,
        date: datetime,
        test_copy: bool = False,
        signer: DkimSigner | None = None,
    ) -> MessageTemplate:
        """The message of a fresh rendering not (yet) recorded as an issue: ``digest build``'s
        ``.eml`` and a test copy of an unrecorded period."""
        return cls(
            config=config, issue_key=rendered.period.key, subject=rendered.subject,
            html_body=rendered.html, text_body=rendered.text, markers=rendered.markers,
            date=date, test_copy=test_copy, signer=signer,
        )  # fmt: skip

    def __init__(
        self,
        *,
        config: Config,
        issue_key: str,
        subject: str,
        html_body: str,
        text_body: str,
        markers: Markers,
        date: datetime,
        test_copy: bool = False,
        nonce: str = "",
        signer: DkimSigner | None = None,
    ):
        """``nonce``: the issue's own random value, stored with it (``StoredIssue.nonce``), so
        a resume repeats each copy's Message-ID and no other issue ever produces it.
        ``signer``: DKIM-sign every copy ``render`` makes; the shared body chunks are
        canonicalised once for all copies (``dkim.PieceHasher``). The Message-ID hash's fixed
        part is hashed here once; each copy adds only its address."""
        news = config.newsletter
        self.issue_key = issue_key
        self.sender = news.sender_address
        self.domain = self.sender.rpartition("@")[2]
        self.return_path = news.return_path
        self.base_url = news.base_url
        self.test_copy = test_copy
        self.mailto = self.sender if news.unsubscribe_mailto else None
        self._id_hash = hashlib.sha256(f"{list_identity(config)}\0{nonce}\0{issue_key}\0".encode())
        slot_nonce = secrets.token_hex(10)
        slot = {kind: f"zq{slot_nonce}{kind}" for kind in ("tu", "tn", "tg", "hu", "hn", "hg")}
        text_slots = {markers.unsubscribe_url: slot["tu"], markers.name: slot["tn"]}
        html_slots = {markers.unsubscribe_url: slot["hu"], markers.name: slot["hn"]}
        if markers.greeting:  # issues stored before the greeting marker have none
            text_slots[markers.greeting] = slot["tg"]
            html_slots[markers.greeting] = slot["hg"]
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = news.from_
        if news.reply_to:
            msg["Reply-To"] = news.reply_to
        msg["Date"] = format_datetime(date)
        for name, value in list_headers(config, issue_key):
            msg[name] = value
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = "multipart/alternative"
        msg.attach(_part("plain", body_with_slots(text_body, text_slots)))
        msg.attach(_part("html", body_with_slots(html_body, html_slots)))
        serialised = msg.as_bytes(policy=policy.SMTP)
        head = subject_header("[TEST] " + clean_subject(subject) if test_copy else subject)
        # Split once: even indexes are literal chunks, odd ones slot kinds.
        by_token = {v.encode("ascii"): k for k, v in slot.items()}
        parts = re.split(b"(" + b"|".join(re.escape(t) for t in by_token) + b")", serialised)
        self._chunks: list[bytes] = [head + parts[0], *parts[2::2]]
        self._slots: list[str] = [by_token[t] for t in parts[1::2]]
        self._pieces = [Piece(chunk) for chunk in self._chunks]  # dot-stuffed once
        self.size = len(serialised)
        self.signer = signer
        body_start = self._chunks[0].index(b"\r\n\r\n") + 4
        self._hasher = PieceHasher([self._chunks[0][body_start:], *self._chunks[1:]])
        self._shared_head = DkimSigner.header_block(self._chunks[0][:body_start])

    def message_id(self, email: str) -> str:
        """Deterministic per issue (and its nonce) and recipient: a re-send carries the same
        Message-ID; a different list, issue or nonce never does (96 bits of hash)."""
        h = self._id_hash.copy()
        h.update(email.lower().encode())
        digest = h.hexdigest()[:24]
        if self.test_copy:
            digest += "." + secrets.token_hex(4) + ".test"
        return f"<{self.issue_key}.{digest}@{self.domain}>"

    def envelope_sender(self, token: str) -> str:
        """MAIL FROM for one copy: the VERP address (``verp_address``) when
        ``newsletter.return_path`` is set, else the From address."""
        if self.return_path is None or not _TOKEN_RE.match(token):
            return self.sender
        return verp_address(self.return_path, self.issue_key, token)

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/unsubscribe/{token}"

    def render(self, r: Recipient, message_id: str | None = None) -> bytes:
        """This recipient's copy, as the bytes SMTP carries (before dot-stuffing)."""
        return self.render_copy(r, message_id).data()

    def render_copy(self, r: Recipient, message_id: str | None = None) -> Copy:
        """This recipient's copy, both as stored and as SMTP's DATA carries it (the literal
        chunks were dot-stuffed once, in ``__init__``). ``message_id``: the one the caller
        already made with ``message_id(r.email)`` to record the outcome, so it is made once
        per copy — and a test copy's, which has a random part, is the one in its header."""
        email = check_header_value("address", r.email)
        if "@" not in email:
            raise RecipientError(f"address {email!r} has no domain")
        token = r.token if _TOKEN_RE.match(r.token) else ""
        if not token:
            raise RecipientError(f"unsubscribe token for {email} is malformed")
        url = self.unsubscribe_url(token)
        name = r.name or FALLBACK_NAME
        greeting = greeting_for(r.name, r.first_name)
        values = {
            "tu": qp_value(url),
            "hu": qp_value(html.escape(url)),
            "tn": qp_value(name),
            "hn": qp_value(html.escape(name)),
            # In the text part the greeting is a paragraph of its own, or no line at all.
            "tg": qp_value(greeting + "\n\n" if greeting else ""),
            "hg": qp_value(html.escape(greeting)),
        }
        headers = (
            f"To: {email}\r\n"
            f"Message-ID: {message_id or self.message_id(email)}\r\n"
            f"List-Unsubscribe: {list_unsubscribe(self.base_url, token, mailto=self.mailto)}\r\n"
        ).encode()
        out = [Piece(headers), self._pieces[0]]
        for kind, chunk in zip(self._slots, self._pieces[1:], strict=True):
            out.append(Piece(values[kind]))
            out.append(chunk)
        if self.signer is None:
            return Copy(out)
        body_hash = self._hasher.digest([values[kind] for kind in self._slots])
        if body_hash is None:  # a value canonicalisation would change: hash the whole body
            return Copy.of(self.signer.sign(Copy(out).data()))
        signatures = self.signer.signatures(headers, body_hash, below=self._shared_head)
        return Copy([Piece(signatures), *out])


__all__ = [
    "DkimSigner",
    "MessageTemplate",
    "Recipient",
    "RecipientError",
    "clean_subject",
    "subject_header",
]
