"""SMTP's DATA transparency (RFC 5321 4.5.2), done once per issue instead of once per copy.

A line that starts with "." travels with another "." in front, and the data ends with CRLF
before the final ".". ``dot_stuff`` does that to a whole message — 100 KB scanned and copied for
every copy, about 29 % of the CPU a copy cost before issue 18. But every copy of an issue is the
same literal chunks with a few small per-recipient values between them (``deliver.message``), so
each chunk is stuffed once (``Piece``) and a copy only stuffs its own values and checks the few
places where a chunk meets a value (``Copy.wire``). ``tests/deliver/test_stuffing.py`` checks the
result is byte for byte ``dot_stuff`` of the joined message, on random and real messages.
"""

from __future__ import annotations

from collections.abc import Sequence


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 transparency: a line starting with "." gets another one; end with CRLF."""
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


class Piece:
    """A literal chunk of a message, with its inner lines already stuffed.

    ``inner`` stuffs only the dots that follow a CRLF *inside* the chunk; whether its first
    byte starts a line depends on what comes before it in a copy, which ``splice`` decides.
    """

    __slots__ = ("inner", "raw")

    def __init__(self, raw: bytes, inner: bytes | None = None):
        self.raw = raw
        self.inner = raw.replace(b"\r\n.", b"\r\n..") if inner is None else inner


def splice(pieces: Sequence[Piece]) -> list[bytes]:
    """The wire form of the pieces joined: exactly ``dot_stuff(b"".join(p.raw …))``.

    A "\\r\\n." can straddle two pieces only at their edges, so each edge is checked against
    the last two bytes that went before it.
    """
    out: list[bytes] = []
    tail = b"\r\n"  # the start of the data counts as the start of a line
    seen = False
    for piece in pieces:
        raw = piece.raw
        if not raw:
            continue
        seen = True
        if raw[:1] == b"." and tail == b"\r\n":
            out.append(b".")
            out.append(piece.inner)
        elif raw[:2] == b"\n." and tail[-1:] == b"\r":
            out.append(b"\n.")
            out.append(piece.inner[1:])
        else:
            out.append(piece.inner)
        tail = raw[-2:] if len(raw) >= 2 else tail[-1:] + raw
    if not seen or tail != b"\r\n":
        out.append(b"\r\n")
    return out


class Copy:
    """One recipient's copy: the message as stored (``data``) and as DATA carries it (``wire``).

    Made either from an issue's pieces (``MessageTemplate.render_copy``; nothing is joined
    until a transport asks) or from whole bytes (``Copy.of``: a notice, a test copy).
    """

    __slots__ = ("_data", "_pieces")

    def __init__(self, pieces: Sequence[Piece]):
        self._pieces = pieces
        self._data: bytes | None = None

    @classmethod
    def of(cls, data: bytes) -> Copy:
        return cls([Piece(data)])

    def data(self) -> bytes:
        """The message bytes (what a Maildir file holds, what DKIM signed)."""
        if self._data is None:
            self._data = b"".join(p.raw for p in self._pieces)
        return self._data

    def wire(self) -> bytes:
        """The bytes written after DATA and before the final ".": ``dot_stuff(self.data())``."""
        return b"".join(splice(self._pieces))

    def __len__(self) -> int:
        return sum(len(p.raw) for p in self._pieces)
