"""Delivery: one message per subscriber, over SMTP or into a local Maildir outbox.

``transport.py`` says what a transport promises and holds the Maildir one, ``smtp.py`` the SMTP
one (``session.py`` is what one of its connections says, copy by copy), ``loop.py`` the
delivery loop that ties them to the ledger.
"""

from __future__ import annotations

from digest.config import Config
from digest.deliver.loop import DeliveryReport, deliver
from digest.deliver.smtp import SmtpTransport
from digest.deliver.transport import Attempt, MaildirTransport, Session, Transport


def make_transport(config: Config) -> Transport:
    """SMTP when ``smtp:`` is configured, else the Maildir at ``outbox:``."""
    if config.smtp is None:
        return MaildirTransport(config.outbox)
    return SmtpTransport(config.smtp, password=config.smtp.password(str(config.path)))


__all__ = [
    "Attempt",
    "DeliveryReport",
    "MaildirTransport",
    "Session",
    "SmtpTransport",
    "Transport",
    "deliver",
    "make_transport",
]
