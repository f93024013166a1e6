"""One SMTP connection's conversation: a copy per transaction, each reply read for its copy.

The transport (``smtp.py``) connects, secures and logs in; a session then sends copies one
after another. One recipient per transaction, so a refusal is always about exactly one
subscriber; 4xx and 5xx arrive through the same calls and are classified by code; the DATA
step is written by hand so we know whether a dropped connection happened before or after the
final "." (smtplib reports both alike).
"""

from __future__ import annotations

import select
import smtplib
import socket
import ssl
from collections.abc import Callable

from digest.deliver.stuffing import Copy
from digest.deliver.transport import Attempt, Envelope
from digest.errors import SenderRefused

#: RCPT answers that mean the mailbox does not exist: the address is marked ``bounced``.
HARD_BOUNCE_CODES = (550, 551, 553)

UNKNOWN_REASON = (
    "connection dropped after the final '.' before the server replied; it may have been "
    "delivered, so it is not sent again automatically"
)


class SmtpSession:
    """One connection, reused for many messages; one recipient per transaction.

    With PIPELINING the next copy's MAIL, RCPT and DATA go out in the same write as this
    copy's final "." (RFC 2920 §3.1: the message content may begin a group, "the RSET/MAIL
    FROM sequence necessary to initiate a new message transaction can be placed in the same
    group as the final transfer of the headers and body of the previous message"), so a copy
    costs one round trip, not two. The replies are still read and checked one by one, each
    for the copy it belongs to. A transaction opened early and never used (the send stops,
    or the copy before it is to be tried again) is abandoned by dropping the connection:
    the server discards a transaction that never saw its final ".".
    """

    def __init__(self, smtp: smtplib.SMTP, *, where: str, username: str | None):
        self.smtp = smtp
        self.where = where  # host:port, for messages
        self.username = username
        self.plain = not isinstance(smtp.sock, ssl.SSLSocket)
        self.pipelining = smtp.has_extn("pipelining")
        #: The transaction opened early (sender, recipient, MAIL options), replies unread.
        self.opened: tuple[str, str, str] | None = None

    def send(
        self,
        sender: str,
        recipient: str,
        copy: Copy,
        message_id: str,
        next_copy: Callable[[], Envelope | None] | None = None,
    ) -> Attempt:
        smtp = self.smtp
        options = self._options(recipient)
        if options is None:
            return Attempt("failed", "address is not ASCII and the server lacks SMTPUTF8")
        try:
            refused = self._envelope(sender, recipient, options)
            if refused is not None:
                return refused
            smtp.send(copy.wire())  # dot-stuffed: the chunks once, per copy its values
            following = next_copy() if next_copy is not None else None
            if self.plain and _peer_closed(smtp.sock):
                return Attempt("retry", "connection dropped during DATA", reconnect=True)
            smtp.send(b".\r\n" + self._open_early(following))
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            return Attempt("retry", f"connection lost before the final '.' ({e})", reconnect=True)
        try:
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError):
            return Attempt("unknown", UNKNOWN_REASON, reconnect=True)
        if code == 250:
            return Attempt("sent")
        if code == -1:
            # Not an SMTP reply at all, after the server had the whole message: it may have
            # delivered it, exactly as when the connection drops here.
            reason = (
                f"unreadable reply after the final '.' ({reply_text(reply)[:100]}); it may have "
                "been delivered, so it is not sent again automatically"
            )
            return Attempt("unknown", reason, reconnect=True)
        attempt = self._classify("after DATA", code, reply)
        if attempt.status == "retry" and self.opened is not None:
            # This copy is tried again first, so the next one's early transaction is dropped.
            return Attempt("retry", attempt.reason, reconnect=True)
        return attempt

    def _options(self, recipient: str) -> str | None:
        """MAIL FROM's options for this recipient; ``None`` if the server can't take it."""
        if recipient.isascii():
            return ""
        return " SMTPUTF8" if self.smtp.has_extn("smtputf8") else None

    def _open_early(self, following: Envelope | None) -> bytes:
        """The next copy's MAIL, RCPT and DATA, to go out with this copy's final "."."""
        if following is None or not self.pipelining:
            return b""
        options = self._options(following[1])
        if options is None:
            return b""
        self.opened = (*following, options)
        return "".join(_commands(*self.opened)).encode(_encoding(options))

    def _envelope(self, sender: str, recipient: str, options: str) -> Attempt | None:
        """MAIL, RCPT and DATA — pipelined (RFC 2920) when the server offers it, and already
        sent if the transaction was opened early. ``None`` when the server is ready for the
        body."""
        smtp = self.smtp
        early, self.opened = self.opened, None
        if early is not None and early != (sender, recipient, options):
            smtp.close()  # never happens: the loop sends next the copy it said came next
            return Attempt("retry", "a transaction was opened for another copy", reconnect=True)
        commands = _commands(sender, recipient, options)
        replies: list[tuple[int, bytes]] = []
        if self.pipelining:
            if early is None:
                smtp.send("".join(commands).encode(_encoding(options)))
            try:
                for _ in commands:
                    replies.append(smtp.getreply())
            except smtplib.SMTPServerDisconnected:
                if replies and replies[-1][0] == 421:  # it said why before hanging up
                    return Attempt("retry", f"421 {reply_text(replies[-1][1])}", reconnect=True)
                raise
        else:
            for command in commands:
                smtp.send(command.encode(_encoding(options)))
                replies.append(smtp.getreply())
                if replies[-1][0] >= 400:
                    break
        steps = ("MAIL FROM", "RCPT TO", "DATA")
        expected = ((250,), (250, 251), (354,))
        for step, ok, (code, reply) in zip(steps, expected, replies, strict=False):
            if code not in ok:
                if len(replies) == 3 and replies[2][0] == 354:
                    # DATA was accepted although an earlier command failed: end it empty.
                    smtp.send(b".\r\n")
                    smtp.getreply()
                if code >= 500 and _refuses_sender(step, code, reply, sender):
                    raise self._sender_refused(sender, step, code, reply)
                return self._refused(step, code, reply, rcpt=step == "RCPT TO")
        return None

    def _sender_refused(self, sender: str, step: str, code: int, reply: bytes) -> SenderRefused:
        user = self.username
        fix = (
            "the server wants a login: set smtp.username and smtp.password_env"
            if code == 530 and not user
            else f"check that newsletter.from is an address {user or 'this client'} may send "
            "as here, and smtp.username / smtp.password_env"
        )
        return SenderRefused(
            f"{self.where} refused the sender {sender} at {step}: {code} "
            f"{reply_text(reply)}; {fix}. Nothing more was sent: the copies not yet sent stay "
            "pending for the next `digest send`"
        )

    def _refused(self, step: str, code: int, reply: bytes, *, rcpt: bool = False) -> Attempt:
        attempt = self._classify(step, code, reply, rcpt=rcpt)
        if not attempt.reconnect:
            try:
                self.smtp.rset()
            except (smtplib.SMTPException, OSError):
                return Attempt(attempt.status, attempt.reason, attempt.bounced, reconnect=True)
        return attempt

    @staticmethod
    def _classify(step: str, code: int, reply: bytes, *, rcpt: bool = False) -> Attempt:
        reason = f"{step}: {code} {reply_text(reply)}"
        if code == 421 or code == -1:
            return Attempt("retry", reason, reconnect=True)
        if 400 <= code < 500:
            return Attempt("retry", reason)
        bounced = rcpt and (code in HARD_BOUNCE_CODES or reply_text(reply).startswith("5.1."))
        return Attempt("failed", reason, bounced=bounced)

    def close(self) -> None:
        if self.opened is not None:  # mid-transaction: QUIT would be read as the message
            self.smtp.close()
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


def _commands(sender: str, recipient: str, options: str) -> list[str]:
    return [f"MAIL FROM:<{sender}>{options}\r\n", f"RCPT TO:<{recipient}>\r\n", "DATA\r\n"]


def _encoding(options: str) -> str:
    return "utf-8" if options else "ascii"


def _refuses_sender(step: str, code: int, reply: bytes, sender: str) -> bool:
    """Is this 5xx about the session rather than one recipient? Then every copy would get it.

    A refusal of MAIL FROM comes before any recipient is named; 530 is "authentication
    required" (RFC 4954); 5.1.7 / 5.1.8 are the sender's address (RFC 3463); and a reply that
    names our envelope sender is about it — Postfix applies its sender restrictions at RCPT
    (``553 5.7.1 <news@…>: Sender address rejected``).
    """
    text = reply_text(reply)
    return (
        step == "MAIL FROM"
        or code == 530
        or text.startswith(("5.1.7", "5.1.8"))
        or f"<{sender.lower()}>" in text.lower()
    )


def _peer_closed(sock: socket.socket | None) -> bool:
    """Before writing the final ".": has the server already hung up (or reset)?"""
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def reply_text(reply: bytes | str) -> str:
    """A server reply on one line, at most 300 characters (for reasons and errors)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:300]
