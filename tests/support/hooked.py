"""The real Maildir transport with a hook: ``after(n)`` runs once the n-th copy is written
(an unsubscribe landing mid-send, a stop, a server restart — at a chosen copy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from digest.deliver import MaildirTransport
from digest.deliver.stuffing import Copy
from digest.deliver.transport import Attempt, Envelope, MaildirSession


class HookedMaildir(MaildirTransport):
    def __init__(self, path: Path, after: Callable[[int], None]):
        super().__init__(path)
        self.after, self.count = after, 0

    def open(self) -> MaildirSession:
        outer = self

        class Session(MaildirSession):
            def send(
                self,
                sender: str,
                recipient: str,
                data: Copy,
                message_id: str,
                next_copy: Callable[[], Envelope | None] | None = None,
            ) -> Attempt:
                attempt = super().send(sender, recipient, data, message_id, next_copy)
                outer.count += 1
                outer.after(outer.count)
                return attempt

        return Session(self.path)
