"""One-off mails to one person — the sign-up confirmation, the welcome after it, an editor's
proof or notice: built, signed, sent at once.

Not part of an issue, so not in the ledger: a confirmation that fails to leave is reported to
the caller and the visitor can ask again; a welcome that fails is recorded on the confirmation
event (``web.signup``). The same header rules as an issue hold: the address is checked before
it goes into ``To`` and the subject is cleaned and encoded by us.

A confirmation has no List-Unsubscribe: there is nothing to unsubscribe from yet. A welcome
goes to a subscriber, so it carries what every issue carries — the list headers
(``headers.list_headers``: List-Id, List-Archive, List-Help, List-Unsubscribe-Post, Precedence,
Auto-Submitted, Feedback-ID with ``welcome`` for the issue) and the reader's own
List-Unsubscribe — and, with ``newsletter.return_path``, a VERP envelope sender
(``bounces+welcome=<token>@…``), so a bounce of it names its subscriber like an issue's does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from digest.config import Config
from digest.deliver.dkim import DkimSigner
from digest.deliver.headers import (
    check_header_value,
    list_headers,
    list_unsubscribe,
    subject_header,
)
from digest.deliver.message import verp_address
from digest.deliver.stuffing import Copy
from digest.deliver.transport import Transport
from digest.errors import DeliveryError, RecipientError


def build_notice(
    config: Config, to: str, subject: str, text: str, html: str, *, when: datetime,
    kind: str = "confirm", unsubscribe_token: str | None = None,
) -> tuple[bytes, str]:  # fmt: skip
    """The message bytes and its Message-ID (``<kind.…@from-domain>``: ``confirm``,
    ``welcome``, ``proof``, ``editor``). With ``unsubscribe_token`` (a mail to a subscriber)
    the list headers are added."""
    address = check_header_value("address", to)
    if "@" not in address:
        raise RecipientError(f"address {address!r} has no domain")
    news = config.newsletter
    domain = news.sender_address.rpartition("@")[2]
    tag = hashlib.sha256(f"{address}\0{secrets.token_hex(8)}".encode()).hexdigest()[:20]
    message_id = f"<{kind}.{tag}@{domain}>"
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = news.from_
    if news.reply_to:
        msg["Reply-To"] = news.reply_to
    msg["Date"] = format_datetime(when)
    head = f"To: {address}\r\nMessage-ID: {message_id}\r\n"
    if unsubscribe_token is None:
        msg["Auto-Submitted"] = "auto-generated"
    else:
        mailto = news.sender_address if news.unsubscribe_mailto else None
        value = list_unsubscribe(news.base_url, unsubscribe_token, mailto=mailto)
        head += f"List-Unsubscribe: {value}\r\n"
        for name, value in list_headers(config, kind):
            msg[name] = value
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return head.encode() + subject_header(subject) + msg.as_bytes(policy=policy.SMTP), message_id


def envelope_sender(config: Config, kind: str, token: str | None) -> str:
    """MAIL FROM for a notice: the VERP address for a mail to a subscriber when
    ``newsletter.return_path`` is set, else the From address."""
    news = config.newsletter
    if news.return_path is None or token is None:
        return news.sender_address
    return verp_address(news.return_path, kind, token)


def send_notice(
    config: Config, transport: Transport, to: str, data: bytes, message_id: str,
    signer: DkimSigner | None = None, *, sender: str | None = None,
) -> None:  # fmt: skip
    """Hand one notice to the transport (from ``sender``, default the From address);
    ``DeliveryError`` if it was not taken."""
    if signer is not None:
        data = signer.sign(data)
    session = transport.open()
    try:
        attempt = session.send(
            sender or config.newsletter.sender_address, to, Copy.of(data), message_id
        )
    finally:
        session.close()
    if attempt.status != "sent":
        raise DeliveryError(f"mail to {to} not delivered: {attempt.reason or attempt.status}")
