"""SMTP servers for tests, on 127.0.0.1 with a kernel-chosen port.

``Sink``: a real aiosmtpd server capturing each envelope and the exact bytes received, with
optional STARTTLS (a trustme test CA) and AUTH. ``ScriptedServer``: a tiny line-by-line SMTP
server whose every answer is scripted, for the faults aiosmtpd can't produce (421 greetings,
drops in the middle of DATA or after the final ".", no STARTTLS on offer).
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.clock import MIDWEEK
from support.config import write_config_file


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Pipelining:
    """An aiosmtpd handler mix-in: offer PIPELINING (RFC 2920) in the EHLO answer.

    aiosmtpd reads pipelined commands in order but does not say it can, so without this the
    client would never pipeline against the test servers. With it, every test that sends
    through a real aiosmtpd server drives digest's pipelined path: the envelope in one write,
    the next copy's transaction opened with the final "." (``deliver/session.py``)."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # the hook's job once it takes the responses over
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class _Capture(Pipelining):
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 2.0.0 accepted"


class _BoundController(Controller):
    """aiosmtpd's Controller on a socket we bound ourselves to port 0 (no port race)."""

    def __init__(self, handler: Any, **kw: Any):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1], **kw)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


@dataclass
class TlsFiles:
    ca_file: Path
    server_context: ssl.SSLContext


def make_tls(tmp: Path, hostname: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a server certificate for ``hostname``; the CA written to a PEM file."""
    ca = trustme.CA()
    cert = ca.issue_cert(hostname)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TlsFiles(ca_file, context)


class Sink:
    """A real SMTP server capturing what it receives. Use as a context manager."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ):
        self.capture = _Capture()
        self.users = users or {}
        self.auth_attempts: list[tuple[str, str]] = []
        kw: dict[str, Any] = {}
        if tls is not None:
            kw.update(tls_context=tls, require_starttls=True)
        if implicit_tls is not None:  # security: ssl (TLS from the first byte, port 465)
            kw.update(ssl_context=implicit_tls)
        if users is not None:
            kw.update(authenticator=self._authenticate, auth_require_tls=True, auth_required=True)
        self.controller = _BoundController(self.capture, **kw)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.auth_attempts.append((login, password))
        return AuthResult(success=self.users.get(login) == password, handled=False)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def received(self) -> list[Received]:
        with self.capture.lock:
            return list(self.capture.received)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# ---------------------------------------------------------------------------------------------
# The scripted server
# ---------------------------------------------------------------------------------------------

#: What the server does with a message body: accept it, answer a code, or drop the connection.
ACCEPT = "accept"
DROP_MID_DATA = "drop-mid-data"
DROP_AFTER_DOT = "drop-after-dot"
#: A greeting, reply or body answer that never comes in time: the server says nothing until
#: the client hangs up (its ``smtp.timeout`` ran out), then answers into the closed connection.
SILENT = "silent"


@dataclass
class Script:
    """The answers a ``ScriptedServer`` gives. Lists are consumed in order, then the default.

    ``greetings`` per connection ("220 …" or "421 …"); ``replies`` per verb (MAIL, RCPT, DATA,
    AUTH, …) for the command itself; ``bodies`` for what follows the message body: ``ACCEPT``,
    ``DROP_MID_DATA``, ``DROP_AFTER_DOT`` or a reply line such as ``"552 5.3.4 too big"``.
    ``SILENT`` in any of them: no answer until the client gives up (a slow server).
    ``on_accept(n)`` runs when the n-th message is complete, before the server answers it (it
    may block, holding that answer back).
    """

    greetings: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=lambda: ["PIPELINING", "8BITMIME"])
    replies: dict[str, list[str]] = field(default_factory=dict)
    bodies: list[str] = field(default_factory=list)
    on_accept: Callable[[int], None] | None = None


@dataclass
class Transcript:
    """Everything the scripted server saw."""

    raw: bytearray = field(default_factory=bytearray)
    commands: list[str] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    connections: int = 0
    #: Answers given only after the client had hung up (``SILENT``).
    late: int = 0
    #: Final "."s that came with the next MAIL FROM already behind them, before any answer.
    early: int = 0


class ScriptedServer:
    def __init__(self, script: Script, *, rcvbuf: int | None = None):
        self.script = script
        self.transcript = Transcript()
        self.lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._serve(self.connection, self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def server_bind(self) -> None:
                if rcvbuf:  # inherited by accepted sockets: the client's writes block sooner
                    self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                super().server_bind()

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def _next(self, queue: list[str], default: str) -> str:
        with self.lock:
            return queue.pop(0) if queue else default

    def _serve(self, conn: socket.socket, rfile: Any, wfile: Any) -> None:
        with self.lock:
            self.transcript.connections += 1
        send: Callable[[str], None] = lambda line: wfile.write(line.encode() + b"\r\n")  # noqa: E731
        greeting = self._next(self.script.greetings, "220 scripted.test ESMTP")
        if greeting == SILENT:
            self._too_late(rfile, send, "220 scripted.test ESMTP, at last")
            return
        send(greeting)
        if not greeting.startswith("220"):
            return
        has_mail = has_rcpt = False
        while True:
            line = rfile.readline(4096)
            if not line:
                return
            self._record(line)
            verb = line.decode("ascii", "replace").split(" ", 1)[0].strip().upper()
            self.transcript.commands.append(verb)
            if verb in ("EHLO", "HELO"):
                ext = self.script.extensions
                lines = ["scripted.test", *ext]
                for i, item in enumerate(lines):
                    send(f"250{'-' if i < len(lines) - 1 else ' '}{item}")
            elif verb == "QUIT":
                send("221 bye")
                return
            elif verb == "DATA":
                if not has_rcpt:  # as RFC 2920 asks of a server when pipelining
                    send("554 5.5.1 no valid recipients")
                    continue
                has_mail = False
                reply = self._next(self.script.replies.get("DATA", []), "354 go ahead")
                if reply == SILENT:
                    self._too_late(rfile, send, "354 go ahead, at last")
                    return
                send(reply)
                has_rcpt = False
                if reply.startswith("354") and not self._body(conn, rfile, send):
                    return
            elif verb == "RCPT" and not has_mail:  # MAIL was refused, or never sent
                send("503 5.5.1 MAIL first")
            else:
                reply = self._next(self.script.replies.get(verb, []), "250 ok")
                if reply == "DROP":
                    return
                if reply == SILENT:
                    self._too_late(rfile, send, "250 ok, at last")
                    return
                send(reply)
                if verb in ("MAIL", "RSET"):
                    has_mail, has_rcpt = verb == "MAIL" and reply.startswith("25"), False
                elif verb == "RCPT":
                    has_rcpt = reply.startswith("25")
                if reply.startswith("421"):
                    return

    def _body(self, conn: socket.socket, rfile: Any, send: Callable[[str], None]) -> bool:
        action = self._next(self.script.bodies, ACCEPT)
        body = bytearray()
        if action == DROP_MID_DATA:
            self._record(rfile.read(1024))
            # Close with a reset while the client is still writing.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        while True:
            line = rfile.readline(1 << 20)
            if not line:
                return False
            self._record(line)
            if line == b".\r\n":
                break
            body += line[1:] if line.startswith(b"..") else line
        if action == SILENT:  # the whole message is here; the answer comes too late
            with self.lock:
                self.transcript.accepted.append(bytes(body))
            self._too_late(rfile, send, "250 2.0.0 queued, at last")
            return False
        if action == DROP_AFTER_DOT:
            with self.lock:
                self.transcript.accepted.append(bytes(body))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if action == ACCEPT:
            with self.lock:
                self.transcript.accepted.append(bytes(body))
                self.transcript.early += _mail_waiting(conn, rfile)
                count = len(self.transcript.accepted)
            if self.script.on_accept is not None:
                self.script.on_accept(count)
            send("250 2.0.0 queued")
            return True
        send(action)
        return not action.startswith("421")

    def _too_late(self, rfile: Any, send: Callable[[str], None], answer: str) -> None:
        """Say nothing until the client hangs up, then answer: slower than any timeout."""
        try:
            while line := rfile.readline(1 << 20):
                self._record(line)
            send(answer)
        except OSError:
            pass
        with self.lock:
            self.transcript.late += 1

    def _record(self, data: bytes) -> None:
        with self.lock:
            self.transcript.raw += data

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _mail_waiting(conn: socket.socket, rfile: Any) -> bool:
    """Has the client already sent the next MAIL FROM (read into ``rfile``'s buffer, or still
    in the socket)? Looked at without waiting."""
    conn.setblocking(False)
    try:
        return bool(rfile.peek(1).startswith(b"MAIL FROM"))
    except BlockingIOError:
        return False
    finally:
        conn.setblocking(True)


# ---------------------------------------------------------------------------------------------
# Helpers for delivery tests: a config in tmp_path, subscribers, an issue recorded directly
# ---------------------------------------------------------------------------------------------

NOW = MIDWEEK


def write_config(tmp: Path, smtp: dict[str, Any] | None = None, **extra: Any) -> Path:
    """A config.yaml in ``tmp`` (folder source ``tmp/reviews``), optionally with ``smtp:``."""
    newsletter = {"reply_to": "editor@reel.example.org", **extra.pop("newsletter", {})}
    return write_config_file(tmp, newsletter=newsletter, smtp=smtp, **extra)


def add_subscribers(config: Any, count: int, *, domain: str = "example.net") -> list[str]:
    """``count`` subscribers named ``reader{i}@domain``; returns the addresses."""
    from digest.state import db, subscribers

    conn = db.connect(config.state)
    try:
        rows = [{"email": f"reader{i:05d}@{domain}", "name": f"Reader {i}"} for i in range(count)]
        subscribers._import_rows(conn, rows)  # type: ignore[arg-type]
    finally:
        conn.close()
    return [r["email"] for r in rows]


def rendered_digest(
    config: Any, *, subject: str = "Three new reviews", html_extra: str = ""
) -> Any:
    """A RenderedDigest built by hand (no templates), with the markers where they belong."""
    from digest.models import Markers, RenderedDigest
    from digest.period import current_period

    m = Markers.make()
    html = (
        "<!doctype html><html><body><p>Hello " + m.name + ", here are this week&#39;s reviews."
        "</p><p>Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9 \u2014 \u201cquoted\u201d</p>"
        + html_extra
        + '<p><a href="'
        + m.unsubscribe_url
        + '">Unsubscribe</a></p></body></html>\n'
    )
    text = (
        "Hello " + m.name + ", here are this week's reviews.\n\n"
        "Caf\u00e9 cr\u00e8me\n.a line that starts with a dot\n\n"
        "Unsubscribe: " + m.unsubscribe_url + "\n"
    )
    return RenderedDigest(
        period=current_period(config, NOW),
        reviews=(),
        subject=subject,
        preheader="",
        html=html,
        text=text,
        markers=m,
    )


def record(config: Any, rendered: Any) -> int:
    """Record ``rendered`` as the period's issue (pending rows for every active subscriber)."""
    from digest.state import db, ledger

    conn = db.connect(config.state)
    try:
        return ledger.record_issue(conn, rendered, now=NOW, path=config.state)
    finally:
        conn.close()


def delivery_states(config: Any, key: str) -> dict[str, tuple[str, str]]:
    """email → (status, last_error) for every delivery row of issue ``key``."""
    from digest.state import db

    conn = db.connect(config.state)
    try:
        rows = conn.execute(
            "SELECT email, status, last_error FROM deliveries WHERE issue_id = ?", (key,)
        ).fetchall()
    finally:
        conn.close()
    return {r["email"]: (r["status"], r["last_error"]) for r in rows}


def write_reviews(folder: Path, count: int = 3, *, published: datetime | None = None) -> None:
    """``count`` short review files (original text), dated the day before ``NOW`` by default."""
    folder.mkdir(parents=True, exist_ok=True)
    when = (published or NOW - timedelta(days=1)).isoformat(timespec="seconds")
    for i in range(count):
        (folder / f"review-{i}.txt").write_text(
            f"Title: Test Picture Number {i}\n"
            f"Date: {when}\n"
            f"Link: https://reel.example.org/reviews/test-picture-{i}/\n\n"
            f"Overview: A lighthouse keeper counts ships that never arrive, part {i}. "
            "Tideline; 2026; 12A; 95 min.\n\n"
            "The Story: A paragraph of body text the digest does not show.\n\n"
            "Overall: Patient and strange.\n\n"
            "Rating: B+\n",
            encoding="utf-8",
        )
