"""Build an issue's email once, then make each recipient's copy by substitution.

The message is assembled and serialised ONCE per issue with the stdlib ``email`` package
(multipart/alternative: text, then HTML). Each part's body is quoted-printable, encoded here
rather than by ``email``, so that every per-recipient slot (unsubscribe link, name) sits on a
line of its own between two QP *soft* line breaks (``=\\r\\n``, invisible once decoded). A soft
line break can therefore never split a slot, and a value of any length is QP-encoded on its own
and wrapped within the 76-character limit. The serialised bytes are split once into literal
chunks and slots; a recipient's copy is the per-recipient headers + the chunks joined with that
recipient's encoded values — no re-rendering, no re-serialising.

Per-recipient headers (To, Message-ID, List-Unsubscribe) are formatted directly from values
checked here. To carries the bare address: the subscriber's name goes only into the body,
escaped, so nothing a subscriber or an import file supplies is ever encoded into a header.

Subject: review titles come from feeds, so the subject is decoded of any RFC 2047 encoded words
(repeatedly), stripped of every control and line-separator character, and written by us as
RFC 2047 encoded words whenever it is not plain ASCII — so no encoding can smuggle a line break
into the header block. (Python 3.11's own header parser decodes ``=?utf-8?q?=0D=0A?=`` into a
real CRLF and writes it out: that is exactly the trap this avoids.)
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from digest.config import Config
from digest.errors import ConfigError, RecipientError
from digest.models import Markers

#: The greeting's name for a subscriber without one (the same word the archive copy uses).
FALLBACK_NAME = "reader"
#: Longest subject we write (longer ones are cut with an ellipsis).
MAX_SUBJECT = 250
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=")
# Characters that could end, fold or disguise a header line, beyond what str.split() removes.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), " ")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str
    token: str


def _decode_words(text: str) -> str:
    """Decode each RFC 2047 encoded word in ``text`` (undecodable ones stay as they are)."""

    def one(m: re.Match[str]) -> str:
        try:
            return str(make_header(decode_header(m.group(0))))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            return m.group(0)

    return _ENCODED_WORD.sub(one, text)


def clean_subject(subject: str) -> str:
    """One safe line: encoded words decoded, controls and line separators gone, length capped."""
    text = subject
    for _ in range(4):  # nested encodings: decode until nothing changes
        decoded = _decode_words(text)
        if decoded == text:
            break
        text = decoded
    text = text.translate(_BIDI)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    if len(text) > MAX_SUBJECT:
        text = text[: MAX_SUBJECT - 1].rstrip() + "…"
    return text or "(no subject)"


def subject_header(subject: str) -> bytes:
    """``Subject: …\\r\\n`` — plain when safe ASCII, else RFC 2047 encoded words (folded)."""
    text = clean_subject(subject)
    if text.isascii() and "=?" not in text:
        return f"Subject: {text}\r\n".encode("ascii")
    encoded = Header(text, "utf-8", header_name="Subject").encode(linesep="\r\n")
    return f"Subject: {encoded}\r\n".encode("ascii")


def _qp(text: str) -> str:
    """Quoted-printable with ``\\n`` line ends (the generator turns them into CRLF).

    The last line is kept to 75 characters, leaving room for the soft break that follows it
    when a slot comes next.
    """
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    head, sep, last = encoded.rpartition("\n")
    if len(last) < 76:
        return encoded
    cut = 75
    while "=" in last[cut - 2 : cut]:  # never split an =XX escape
        cut -= 1
    return f"{head}{sep}{last[:cut]}=\n{last[cut:]}"


def _qp_value(value: str) -> bytes:
    """A slot's value, QP-encoded with CRLF soft breaks (it sits on its own line)."""
    return binascii.b2a_qp(value.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _body_with_slots(body: str, slots: dict[str, str]) -> str:
    """QP-encode ``body`` with each marker replaced by its slot token on a line of its own."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    pattern = re.compile("|".join(re.escape(m) for m in slots))
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(body):
        out.append(_qp(body[pos : m.start()]))
        out.append(f"=\n{slots[m.group(0)]}=\n")
        pos = m.end()
    out.append(_qp(body[pos:]))
    return "".join(out)


def _part(subtype: str, payload: str) -> EmailMessage:
    part = EmailMessage(policy=policy.SMTP)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(payload)
    return part


def _check_header_value(kind: str, value: str) -> str:
    if (
        not value
        or any(c.isspace() or unicodedata.category(c) == "Cc" for c in value)
        or any(c in value for c in '<>,;"()[]\\')
    ):
        raise RecipientError(f"{kind} {value!r} can't be written into a header")
    return value


class MessageTemplate:
    """An issue's serialised message, split into literal chunks and per-recipient slots."""

    def __init__(
        self,
        *,
        config: Config,
        issue_key: str,
        subject: str,
        html_body: str,
        text_body: str,
        markers: Markers,
        date: datetime,
        test_copy: bool = False,
    ):
        news = config.newsletter
        self.issue_key = issue_key
        self.sender = news.sender_address
        self.domain = self.sender.rpartition("@")[2]
        self.base_url = news.base_url
        self.test_copy = test_copy
        nonce = secrets.token_hex(10)
        slot = {kind: f"zq{nonce}{kind}" for kind in ("tu", "tn", "hu", "hn")}
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = news.from_
        if news.reply_to:
            msg["Reply-To"] = news.reply_to
        msg["Date"] = format_datetime(date)
        msg["List-Id"] = f"{_list_label(news.title)} <{_slug(news.title)}.{self.domain}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = "multipart/alternative"
        msg.attach(
            _part("plain", _body_with_slots(text_body, {markers.unsubscribe_url: slot["tu"],
                                                         markers.name: slot["tn"]}))
        )  # fmt: skip
        msg.attach(
            _part("html", _body_with_slots(html_body, {markers.unsubscribe_url: slot["hu"],
                                                        markers.name: slot["hn"]}))
        )  # fmt: skip
        serialised = msg.as_bytes(policy=policy.SMTP)
        if test_copy:
            subject = "[TEST] " + clean_subject(subject)
        head = subject_header(subject)
        # Split once: even indexes are literal chunks, odd ones slot kinds.
        by_token = {v.encode("ascii"): k for k, v in slot.items()}
        parts = re.split(b"(" + b"|".join(re.escape(t) for t in by_token) + b")", serialised)
        self._chunks: list[bytes] = [head + parts[0], *parts[2::2]]
        self._slots: list[str] = [by_token[t] for t in parts[1::2]]
        self.size = len(serialised)

    def message_id(self, email: str) -> str:
        """Deterministic per issue and recipient: a re-send carries the same Message-ID."""
        digest = hashlib.sha256(f"{self.issue_key}\0{email.lower()}".encode()).hexdigest()[:16]
        if self.test_copy:
            digest += "." + secrets.token_hex(4) + ".test"
        return f"<{self.issue_key}.{digest}@{self.domain}>"

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/unsubscribe/{token}"

    def render(self, r: Recipient) -> bytes:
        """This recipient's copy, as the bytes SMTP carries (before dot-stuffing)."""
        email = _check_header_value("address", r.email)
        if "@" not in email:
            raise RecipientError(f"address {email!r} has no domain")
        token = r.token if _TOKEN_RE.match(r.token) else ""
        if not token:
            raise RecipientError(f"unsubscribe token for {email} is malformed")
        url = self.unsubscribe_url(token)
        name = r.name or FALLBACK_NAME
        values = {
            "tu": _qp_value(url),
            "hu": _qp_value(html.escape(url)),
            "tn": _qp_value(name),
            "hn": _qp_value(html.escape(name)),
        }
        headers = (
            f"To: {email}\r\n"
            f"Message-ID: {self.message_id(email)}\r\n"
            f"List-Unsubscribe: <mailto:{self.sender}?subject=unsubscribe-{token}>,\r\n"
            f" <{url}>\r\n"
        ).encode()
        out = [headers, self._chunks[0]]
        for kind, chunk in zip(self._slots, self._chunks[1:], strict=True):
            out.append(values[kind])
            out.append(chunk)
        return b"".join(out)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "digest"


def _list_label(title: str) -> str:
    """The List-Id phrase, quoted (the title is from our own config, never a feed)."""
    safe = "".join(c for c in title if c.isascii() and c.isprintable() and c not in '"\\')
    return f'"{safe}"'


class DkimSigner:
    """Signs each copy (To and Message-ID differ per recipient, so each needs its own)."""

    HEADERS = (
        b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
        b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type",
    )  # fmt: skip

    def __init__(self, domain: str, selector: str, key_file: Path):
        try:
            self.key = key_file.read_bytes()
        except OSError as e:
            raise ConfigError(
                str(key_file),
                f"can't read the DKIM private key ({e.strerror})",
                key="dkim.key_file",
            ) from None
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")

    def sign(self, message: bytes) -> bytes:
        import dkim

        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=list(self.HEADERS),
            linesep=b"\r\n",
        )
        return signature + message
