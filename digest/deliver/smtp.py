"""The SMTP transport: verified TLS, reused connections, a shared rate limit, reply codes.

smtplib's traps, handled here: ``starttls()`` gets a verifying context (``create_default_context``
plus ``smtp.ca_file``); a password is never sent on an unencrypted connection; one recipient per
transaction, so a refusal is always about exactly one subscriber; 4xx and 5xx arrive through the
same calls and are classified by code; the DATA step is written by hand so we know whether a
dropped connection happened before or after the final "." (smtplib reports both alike).
"""

from __future__ import annotations

import select
import smtplib
import socket
import ssl
import threading
import time

from digest.config import Smtp
from digest.deliver.stuffing import Copy
from digest.deliver.transport import Attempt
from digest.errors import ConnectFailed, DeliveryError, SenderRefused

#: RCPT answers that mean the mailbox does not exist: the address is marked ``bounced``.
HARD_BOUNCE_CODES = (550, 551, 553)

UNKNOWN_REASON = (
    "connection dropped after the final '.' before the server replied; it may have been "
    "delivered, so it is not sent again automatically"
)


class _Transient(Exception):
    """A connection attempt worth repeating after a back-off (421, refused, reset)."""


class TokenBucket:
    """A rate limit shared by all connections: ``rate`` messages per second, small bursts."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


class SmtpTransport:
    def __init__(
        self,
        settings: Smtp,
        *,
        password: str | None = None,
        backoff_base: float = 2.0,
        local_hostname: str | None = None,
    ):
        self.settings = settings
        self.connections = settings.connections
        self.retries = settings.retries
        self.password = password
        self.backoff_base = backoff_base
        self.local_hostname = local_hostname or socket.gethostname() or "localhost"
        self.bucket = TokenBucket(settings.rate, settings.connections)
        cafile = str(settings.ca_file) if settings.ca_file else None
        try:
            self.context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as e:
            raise DeliveryError(f"{settings.ca_file}: can't load the CA file ({e})") from e

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def describe(self) -> str:
        return f"SMTP {self.where} ({self.settings.security}, {self.connections} connections)"

    def backoff(self, attempt: int) -> float:
        return float(self.backoff_base * (2**attempt))

    def acquire(self) -> None:
        self.bucket.acquire()

    def open(self) -> SmtpSession:
        """Connect, secure and log in; 421 and refused connections are retried with back-off."""
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return SmtpSession(self._connect(), self)
            except _Transient as e:
                last = str(e)
                if attempt < self.retries:
                    time.sleep(self.backoff(attempt))
        raise ConnectFailed(
            f"could not use the mail server {self.where}: {last} (after {self.retries + 1} "
            "attempts; check smtp.host / smtp.port — unsent copies stay pending for the next "
            "`digest send`)"
        )

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=self.local_hostname, timeout=s.timeout,
                    context=self.context,
                )  # fmt: skip
            else:
                smtp = smtplib.SMTP(
                    s.host, s.port, local_hostname=self.local_hostname, timeout=s.timeout
                )
        except smtplib.SMTPConnectError as e:
            if 400 <= e.smtp_code < 500:
                raise _Transient(f"greeting {e.smtp_code} {_text(e.smtp_error)}") from e
            raise DeliveryError(
                f"{self.where} refused the connection: {e.smtp_code} {_text(e.smtp_error)}"
            ) from e
        except ssl.SSLCertVerificationError as e:
            raise DeliveryError(_cert_message(self.where, e)) from e
        except ssl.SSLError as e:
            raise DeliveryError(f"TLS with {self.where} failed ({e.reason})") from e
        except (OSError, smtplib.SMTPException) as e:
            raise _Transient(f"can't connect ({e})") from e
        if smtp.sock is not None:
            # The body and the final "." are separate writes; without this, Nagle's algorithm
            # holds the "." back until the server's delayed ACK (~40 ms per message).
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._secure_and_login(smtp)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _secure_and_login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        try:
            code, reply = smtp.ehlo()
            if code == 421:
                raise _Transient(f"EHLO answered 421 {_text(reply)}")
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    if s.username:
                        raise DeliveryError(
                            f"{self.where} did not offer STARTTLS; refusing to send the "
                            "password in clear"
                        )
                    raise DeliveryError(
                        f"{self.where} did not offer STARTTLS; refusing to send mail "
                        "unencrypted (smtp.security: starttls)"
                    )
                smtp.starttls(context=self.context)
                smtp.ehlo()
            if s.username:
                if s.security == "none":
                    raise DeliveryError(
                        f"refusing to send the password for {s.username} to {self.where} "
                        "unencrypted; use smtp.security: starttls or ssl"
                    )
                _login(smtp, s.username, self.password or "")
        except ssl.SSLCertVerificationError as e:
            raise DeliveryError(_cert_message(self.where, e)) from e
        except ssl.SSLError as e:
            raise DeliveryError(f"TLS with {self.where} failed ({e.reason})") from e
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(
                f"{self.where} refused the login as {s.username} ({e.smtp_code} "
                f"{_text(e.smtp_error)}); check smtp.username and the password in "
                f"${s.password_env}"
            ) from e
        except smtplib.SMTPNotSupportedError as e:
            raise DeliveryError(f"{self.where} does not support logging in ({e})") from e
        except smtplib.SMTPResponseException as e:
            if e.smtp_code == 421:
                raise _Transient(f"421 {_text(e.smtp_error)}") from e
            raise DeliveryError(f"{self.where}: {e.smtp_code} {_text(e.smtp_error)}") from e
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise _Transient(f"connection lost while setting up ({e})") from e


class SmtpSession:
    """One connection, reused for many messages; one recipient per transaction."""

    def __init__(self, smtp: smtplib.SMTP, transport: SmtpTransport):
        self.smtp = smtp
        self.transport = transport
        self.plain = not isinstance(smtp.sock, ssl.SSLSocket)
        self.pipelining = smtp.has_extn("pipelining")

    def send(self, sender: str, recipient: str, copy: Copy, message_id: str) -> Attempt:
        smtp = self.smtp
        options = ""
        if not recipient.isascii():
            if not smtp.has_extn("smtputf8"):
                return Attempt("failed", "address is not ASCII and the server lacks SMTPUTF8")
            options = " SMTPUTF8"
        try:
            refused = self._envelope(sender, recipient, options)
            if refused is not None:
                return refused
            smtp.send(copy.wire())  # dot-stuffed: the chunks once, per copy its values
            if self.plain and _peer_closed(smtp.sock):
                return Attempt("retry", "connection dropped during DATA", reconnect=True)
            smtp.send(b".\r\n")
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
                f"unreadable reply after the final '.' ({_text(reply)[:100]}); it may have "
                "been delivered, so it is not sent again automatically"
            )
            return Attempt("unknown", reason, reconnect=True)
        return self._classify("after DATA", code, reply)

    def _envelope(self, sender: str, recipient: str, options: str) -> Attempt | None:
        """MAIL, RCPT and DATA — pipelined (RFC 2920) when the server offers it, which halves
        the round trips per message. ``None`` when the server is ready for the body."""
        smtp = self.smtp
        encoding = "utf-8" if options else "ascii"
        commands = [f"MAIL FROM:<{sender}>{options}\r\n", f"RCPT TO:<{recipient}>\r\n", "DATA\r\n"]
        replies: list[tuple[int, bytes]] = []
        if self.pipelining:
            smtp.send("".join(commands).encode(encoding))
            try:
                for _ in commands:
                    replies.append(smtp.getreply())
            except smtplib.SMTPServerDisconnected:
                if replies and replies[-1][0] == 421:  # it said why before hanging up
                    return Attempt("retry", f"421 {_text(replies[-1][1])}", reconnect=True)
                raise
        else:
            for command in commands:
                smtp.send(command.encode(encoding))
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
        user = self.transport.settings.username
        fix = (
            "the server wants a login: set smtp.username and smtp.password_env"
            if code == 530 and not user
            else f"check that newsletter.from is an address {user or 'this client'} may send "
            "as here, and smtp.username / smtp.password_env"
        )
        return SenderRefused(
            f"{self.transport.where} refused the sender {sender} at {step}: {code} "
            f"{_text(reply)}; {fix}. Nothing more was sent: the copies not yet sent stay "
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
        reason = f"{step}: {code} {_text(reply)}"
        if code == 421 or code == -1:
            return Attempt("retry", reason, reconnect=True)
        if 400 <= code < 500:
            return Attempt("retry", reason)
        bounced = rcpt and (code in HARD_BOUNCE_CODES or _text(reply).startswith("5.1."))
        return Attempt("failed", reason, bounced=bounced)

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


def _refuses_sender(step: str, code: int, reply: bytes, sender: str) -> bool:
    """Is this 5xx about the session rather than one recipient? Then every copy would get it.

    A refusal of MAIL FROM comes before any recipient is named; 530 is "authentication
    required" (RFC 4954); 5.1.7 / 5.1.8 are the sender's address (RFC 3463); and a reply that
    names our envelope sender is about it — Postfix applies its sender restrictions at RCPT
    (``553 5.7.1 <news@…>: Sender address rejected``).
    """
    text = _text(reply)
    return (
        step == "MAIL FROM"
        or code == 530
        or text.startswith(("5.1.7", "5.1.8"))
        or f"<{sender.lower()}>" in text.lower()
    )


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """PLAIN, else LOGIN — and stop at the first refusal: a 535 means the credentials are
    wrong, and trying further mechanisms (as ``smtplib.login`` does) only repeats them."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    smtp.user, smtp.password = username, password
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
            smtp.auth(mechanism, authobject, initial_response_ok=mechanism == "PLAIN")
            return
    raise smtplib.SMTPNotSupportedError(f"no AUTH mechanism we use (PLAIN, LOGIN) in {offered}")


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


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:300]


def _cert_message(where: str, e: ssl.SSLCertVerificationError) -> str:
    return (
        f"the certificate of {where} could not be verified ({e.verify_message}); "
        "refusing to send. If the server uses a private CA, set smtp.ca_file"
    )
