"""The SMTP transport: verified TLS, reused connections, a shared rate limit.

smtplib's traps, handled here: ``starttls()`` gets a verifying context (``create_default_context``
plus ``smtp.ca_file``); a password is never sent on an unencrypted connection; 421 and refused
connections are retried with back-off. What a connection then says, copy by copy, is
``session.py``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time

from digest.config import Smtp
from digest.deliver.session import SmtpSession, reply_text
from digest.errors import ConnectFailed, DeliveryError


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
                smtp = self._connect()
                return SmtpSession(smtp, where=self.where, username=self.settings.username)
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
                raise _Transient(f"greeting {e.smtp_code} {reply_text(e.smtp_error)}") from e
            raise DeliveryError(
                f"{self.where} refused the connection: {e.smtp_code} {reply_text(e.smtp_error)}"
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
                raise _Transient(f"EHLO answered 421 {reply_text(reply)}")
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
                f"{reply_text(e.smtp_error)}); check smtp.username and the password in "
                f"${s.password_env}"
            ) from e
        except smtplib.SMTPNotSupportedError as e:
            raise DeliveryError(f"{self.where} does not support logging in ({e})") from e
        except smtplib.SMTPResponseException as e:
            if e.smtp_code == 421:
                raise _Transient(f"421 {reply_text(e.smtp_error)}") from e
            raise DeliveryError(f"{self.where}: {e.smtp_code} {reply_text(e.smtp_error)}") from e
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise _Transient(f"connection lost while setting up ({e})") from e


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


def _cert_message(where: str, e: ssl.SSLCertVerificationError) -> str:
    return (
        f"the certificate of {where} could not be verified ({e.verify_message}); "
        "refusing to send. If the server uses a private CA, set smtp.ca_file"
    )
