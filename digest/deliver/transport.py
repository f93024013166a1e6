"""What a transport promises the delivery loop, and the Maildir transport.

A transport opens *sessions* (one per worker thread; an SMTP connection, or the outbox folder)
and a session sends one copy at a time (a ``stuffing.Copy``: the message as stored, and as
SMTP's DATA carries it), answering with an ``Attempt``:

- ``sent``      the server took responsibility for the message (250 after the final ".");
- ``retry``     a temporary failure (4xx, a connection lost *before* the final "."): safe to
                send again, after a back-off, up to ``smtp.retries`` times, then ``deferred``;
- ``failed``    a permanent refusal (5xx) with the server's reason;
- ``unknown``   the connection dropped *after* the final "." and before the reply: the server
                may have delivered it, so it is never sent again automatically.

A session raises ``DeliveryError`` only when the server can't be used at all (can't connect,
TLS or login refused, the sender refused — ``SenderRefused``): the loop then stops and leaves
the remaining rows pending.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digest.deliver.stuffing import Copy
from digest.errors import DeliveryError
from digest.status import AttemptStatus

#: A copy's envelope: (MAIL FROM address, RCPT TO address).
Envelope = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Attempt:
    status: AttemptStatus
    reason: str = ""
    #: A hard bounce (the mailbox does not exist): the subscriber is never mailed again.
    bounced: bool = False
    #: The session is no longer usable (dropped, 421): open a new one before the next send.
    reconnect: bool = False


class Session(Protocol):
    def send(
        self,
        sender: str,
        recipient: str,
        copy: Copy,
        message_id: str,
        next_copy: Callable[[], Envelope | None] | None = None,
    ) -> Attempt:
        """Send one copy. ``next_copy``, if given, may be called once while the copy is on
        its way: the delivery loop makes its next copy ready then, and answers with that
        copy's envelope, or ``None`` if nothing is to follow on this session. An SMTP
        session opens the next transaction early with it (``smtp.SmtpSession``); the next
        ``send`` must then be that copy, or the session drops the transaction. It must not
        raise."""

    def close(self) -> None: ...


class Transport(Protocol):
    #: How many sessions to run in parallel.
    connections: int
    #: Attempts for a temporary failure before the copy is left ``deferred``.
    retries: int

    def open(self) -> Session: ...

    def describe(self) -> str: ...

    def backoff(self, attempt: int) -> float: ...

    def acquire(self) -> None:
        """Wait for the rate limit to allow one more message."""


class MaildirTransport:
    """Deliver into a local Maildir: each copy is one file holding exactly the SMTP bytes.

    The file name is derived from the Message-ID, so a copy that is already there (a crash
    between writing it and recording it) is recognised and never written twice.
    """

    connections = 1
    retries = 0

    def __init__(self, path: Path):
        self.path = path
        try:
            mailbox.Maildir(path, create=True)  # makes new/ cur/ tmp/
        except OSError as e:
            raise DeliveryError(f"{path}: can't create the outbox ({e.strerror})") from e

    def describe(self) -> str:
        return f"Maildir {self.path}"

    def backoff(self, attempt: int) -> float:
        return 0.0

    def acquire(self) -> None:
        return None

    def open(self) -> MaildirSession:
        return MaildirSession(self.path)

    @staticmethod
    def key_for(message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".digest"


class MaildirSession:
    def __init__(self, path: Path):
        self.path = path

    def _exists(self, key: str) -> bool:
        if (self.path / "new" / key).exists():
            return True
        # A mail client moves read mail to cur/ and appends ":2,<flags>".
        return any(p.name.startswith(key + ":") or p.name == key for p in self._cur(key))

    def _cur(self, key: str) -> list[Path]:
        return list((self.path / "cur").glob(key + "*"))

    def send(
        self,
        sender: str,
        recipient: str,
        copy: Copy,
        message_id: str,
        next_copy: Callable[[], Envelope | None] | None = None,
    ) -> Attempt:
        """Write the file (``next_copy`` is not called: nothing here waits on a server)."""
        key = MaildirTransport.key_for(message_id)
        if self._exists(key):
            return Attempt("sent", "already in the outbox")
        tmp = self.path / "tmp" / key
        try:
            with open(tmp, "wb") as f:
                f.write(copy.data())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / "new" / key)
        except OSError as e:
            raise DeliveryError(f"{self.path}: can't write to the outbox ({e.strerror})") from e
        return Attempt("sent")

    def close(self) -> None:
        return None
