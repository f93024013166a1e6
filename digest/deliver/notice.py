"""One-off mails to one person (the sign-up confirmation): built, signed, sent at once.

Not part of an issue, so not in the ledger: a confirmation that fails to leave is reported to
the caller and the visitor can ask again. The same header rules as an issue hold: the address
is checked before it goes into ``To``, the subject is cleaned and encoded by us, and no
List-Unsubscribe is added (there is nothing to unsubscribe from yet).
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
from digest.deliver.headers import check_header_value, subject_header
from digest.deliver.stuffing import Copy
from digest.deliver.transport import Transport
from digest.errors import DeliveryError, RecipientError


def build_notice(
    config: Config, to: str, subject: str, text: str, html: str, *, when: datetime
) -> tuple[bytes, str]:
    """The message bytes and its Message-ID."""
    address = check_header_value("address", to)
    if "@" not in address:
        raise RecipientError(f"address {address!r} has no domain")
    news = config.newsletter
    domain = news.sender_address.rpartition("@")[2]
    tag = hashlib.sha256(f"{address}\0{secrets.token_hex(8)}".encode()).hexdigest()[:20]
    message_id = f"<confirm.{tag}@{domain}>"
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = news.from_
    if news.reply_to:
        msg["Reply-To"] = news.reply_to
    msg["Date"] = format_datetime(when)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    head = f"To: {address}\r\nMessage-ID: {message_id}\r\n".encode() + subject_header(subject)
    return head + msg.as_bytes(policy=policy.SMTP), message_id


def send_notice(
    config: Config, transport: Transport, to: str, data: bytes, message_id: str,
    signer: DkimSigner | None = None,
) -> None:  # fmt: skip
    """Hand one notice to the transport; ``DeliveryError`` if it was not taken."""
    if signer is not None:
        data = signer.sign(data)
    session = transport.open()
    try:
        attempt = session.send(config.newsletter.sender_address, to, Copy.of(data), message_id)
    finally:
        session.close()
    if attempt.status != "sent":
        raise DeliveryError(f"mail to {to} not delivered: {attempt.reason or attempt.status}")
