"""The inbound mailbox over IMAP (imaplib): list, fetch, move aside, mark for a person.

Messages are fetched one at a time with ``BODY.PEEK[]`` (reading never marks them seen). An
understood message is moved to the processed folder (``MOVE``, RFC 6851, or COPY + ``\\Deleted``
+ ``UID EXPUNGE`` of that one UID); one that was not understood gets the keyword
``digest-unread`` so the next run passes over it, and is otherwise left untouched — unread, in
its folder. Nothing is ever deleted outright.

Any failure of the server or the connection is an ``InboundError`` naming the server; what was
recorded before it stays recorded, and what was not is read again on the next run.
"""

from __future__ import annotations

import imaplib
import ssl
from pathlib import Path
from types import TracebackType

from digest.config import Inbound
from digest.errors import InboundError

#: The keyword on messages digest did not understand (left for a person).
SKIPPED = "digest-unread"


class Mailbox:
    def __init__(
        self, settings: Inbound, host: str, username: str, password: str, *,
        folder_of_config: Path | None = None,
    ):  # fmt: skip
        """``host``, ``username`` and ``password``: ``settings.account()``."""
        self.settings = settings
        self.host, self.username, self.password = host, username, password
        self.where = f"{host}:{settings.port}"
        ca = settings.ca_file
        if ca is not None and folder_of_config is not None and not ca.is_absolute():
            ca = folder_of_config / ca
        self.ca_file = ca
        self.imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> Mailbox:
        try:
            self.imap = self._connect()
            self.imap.login(self.username, self.password)
            self._ensure(self.settings.processed_folder)
            self._ok(self.imap.select(_quote(self.settings.folder)), "select the folder")
        except (imaplib.IMAP4.error, OSError) as e:
            self.close()
            raise self._error(e) from e
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> imaplib.IMAP4:
        s = self.settings
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if s.security == "ssl":
            return imaplib.IMAP4_SSL(self.host, s.port, ssl_context=context, timeout=s.timeout)
        imap = imaplib.IMAP4(self.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            imap.starttls(ssl_context=context)
        return imap

    def _ensure(self, folder: str) -> None:
        assert self.imap is not None
        typ, _ = self.imap.create(_quote(folder))
        if typ != "OK":  # usually "already exists"; SELECT-ability is what counts
            self._ok(self.imap.status(_quote(folder), "(MESSAGES)"), f"use folder {folder!r}")

    def waiting(self) -> list[bytes]:
        """UIDs of the messages not yet handled (not moved, not marked for a person)."""
        typ, data = self._call("uid", "SEARCH", "UNKEYWORD", SKIPPED)
        self._ok((typ, data), "search the folder")
        first = data[0] if data else b""
        return first.split() if isinstance(first, bytes) else []

    def fetch(self, uid: bytes) -> bytes | None:
        """The whole message, or ``None`` if it is gone (another reader moved it)."""
        typ, data = self._call("uid", "FETCH", uid, "(BODY.PEEK[])")
        self._ok((typ, data), "fetch a message")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return bytes(item[1])
        return None

    def done(self, uid: bytes) -> None:
        """Move an understood message to the processed folder."""
        folder = _quote(self.settings.processed_folder)
        assert self.imap is not None
        if "MOVE" in self.imap.capabilities:
            self._ok(self._call("uid", "MOVE", uid, folder), "move a message")
            return
        self._ok(self._call("uid", "COPY", uid, folder), "copy a message")
        self._ok(self._call("uid", "STORE", uid, "+FLAGS.SILENT", "(\\Deleted)"), "flag a copy")
        self._ok(self._call("uid", "EXPUNGE", uid), "expunge a moved message")

    def skip(self, uid: bytes) -> None:
        """Leave a message for a person: marked so digest passes over it, still unread."""
        self._ok(self._call("uid", "STORE", uid, "+FLAGS.SILENT", f"({SKIPPED})"), "mark")

    def _call(self, command: str, *args: str | bytes) -> tuple[str, list[object]]:
        assert self.imap is not None
        try:
            typ, data = getattr(self.imap, command)(*args)
        except (TimeoutError, imaplib.IMAP4.error, OSError) as e:
            raise self._error(e) from e
        return typ, list(data)

    def _ok(self, answer: tuple[str, list[object]] | tuple[str, object], what: str) -> None:
        typ, data = answer
        if typ != "OK":
            raise InboundError(self.where, f"the server would not {what} ({_text(data)})")

    def _error(self, e: BaseException) -> InboundError:
        if isinstance(e, imaplib.IMAP4.error) and "authentication" in str(e).lower():
            why = "login refused; check inbound.username and the password variable"
        elif isinstance(e, ssl.SSLError):
            why = f"TLS failed ({e}); check inbound.security and inbound.ca_file"
        elif isinstance(e, imaplib.IMAP4.abort):
            why = f"connection lost ({_text(e)}); what was not handled is read on the next run"
        elif isinstance(e, OSError):
            why = f"connection failed or lost ({e.strerror or e}); check inbound.host and port"
        else:
            why = f"the server said {_text(e)}"
        return InboundError(self.where, why)

    def close(self) -> None:
        imap, self.imap = self.imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            imap.shutdown()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:200]
