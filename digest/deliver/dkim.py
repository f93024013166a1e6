"""DKIM signatures for each copy: RSA-SHA256 and, optionally, a second Ed25519-SHA256 (RFC 8463).

dkimpy's own ``sign`` does the RSA arithmetic in pure Python (about 16 ms a message, holding the
GIL); here the signature comes from ``cryptography`` (OpenSSL, ~0.45 ms), and the relaxed
canonicalisation is written for our messages' shape (dkimpy's walks every header name once per
``h=`` entry and runs three regular expressions over the whole body: another ~1 ms). dkimpy
still folds the tags, canonicalises any body with a tab, and — in the tests — verifies every
copy, so the two implementations are checked against each other.

Choices a careful bulk sender makes, and why:

- ``c=relaxed/relaxed``: a relay that re-folds a header or re-wraps trailing whitespace in the
  body does not break the signature (``simple`` body canonicalisation breaks on either).
- Oversigning: every header we sign is listed in ``h=`` once more than it occurs, so a second
  ``From:`` (or Subject, To, List-Unsubscribe …) prepended on the way fails verification
  instead of being shown to the reader under our signature.
- No ``l=`` (body length) tag: with it, anyone could append content under our signature.
- ``t=`` (signing time) is set; ``x=`` is not, since a deferred copy can legitimately sit in a
  queue for days.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy, correct_empty_body, strip_trailing_lines

from digest.config.schema import Dkim
from digest.errors import ConfigError

#: Signed in this order, each listed once more than it occurs (see the module docstring).
SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post", b"list-archive", b"list-help",
    b"feedback-id", b"precedence", b"auto-submitted", b"mime-version", b"content-type",
)  # fmt: skip
_CANON = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_WSP = re.compile(rb"[\t ]+")
_TRAILING_SPACES = re.compile(rb" +\r\n")
_SPACE_RUNS = re.compile(rb"  +")


@dataclass(frozen=True, slots=True)
class _Key:
    algorithm: bytes  # b"rsa-sha256" | b"ed25519-sha256"
    selector: bytes
    private: Any  # rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def sign(self, digest: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        # RFC 8463: the Ed25519 signature is over the SHA-256 hash of the header data.
        signature: bytes = self.private.sign(digest)
        return signature


def _load_key(path: Path, key: str, want: type) -> Any:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            str(path), f"can't read the DKIM private key ({e.strerror})", key=key
        ) from None
    private: Any = None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        if want is ed25519.Ed25519PrivateKey:  # dknewkey writes the bare base64 seed
            try:
                private = ed25519.Ed25519PrivateKey.from_private_bytes(
                    base64.b64decode(data.strip(), validate=True)
                )
            except ValueError:
                private = None
    if not isinstance(private, want):
        kind = (
            "an RSA private key (unencrypted PEM)"
            if want is rsa.RSAPrivateKey
            else "an Ed25519 private key (unencrypted PEM, or the base64 seed dknewkey writes)"
        )
        raise ConfigError(str(path), f"is not {kind}", key=key)
    return private


def _relaxed_header(line: bytes) -> tuple[bytes, bytes]:
    """(lower-case name, ``name:value``) of one unfolded-or-folded header, relaxed (RFC 6376)."""
    name, _, value = line.partition(b":")
    name = name.rstrip().lower()
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip()
    return name, name + b":" + value


def _headers(message: bytes) -> dict[bytes, list[bytes]]:
    """The header block, each field relaxed, grouped by name (in their order)."""
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[:end]
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    grouped: dict[bytes, list[bytes]] = {}
    for field in fields:
        name, canonical = _relaxed_header(field)
        grouped.setdefault(name, []).append(canonical)
    return grouped


def _header_data(grouped: dict[bytes, list[bytes]], include: list[bytes]) -> bytes:
    """What ``h=`` signs: each listed name's next occurrence from the bottom up; a name listed
    more often than it occurs adds nothing (RFC 6376 5.4.2), which is what oversigning relies on.
    """
    taken: dict[bytes, int] = {}
    out: list[bytes] = []
    for name in include:
        present = grouped.get(name, ())
        n = taken.get(name, 0)
        if n < len(present):
            out.append(present[len(present) - 1 - n] + b"\r\n")
        taken[name] = n + 1
    return b"".join(out)


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 relaxed body canonicalisation, exactly as dkimpy's, at C speed on our bodies.

    dkimpy's three regular expressions visit every space of a 100 KB body (about 3 ms a copy,
    more than the RSA signature). Our quoted-printable bodies have no tabs and no trailing
    blanks, and few runs of spaces, so each step runs only when a substring search says it
    would change something; a body with a tab goes through dkimpy's own code.
    """
    if b"\t" in body:
        return bytes(_CANON.canonicalize_body(body))
    if b" \r\n" in body:
        body = _TRAILING_SPACES.sub(b"\r\n", body)
    if b"  " in body:
        body = _SPACE_RUNS.sub(b" ", body)
    return bytes(correct_empty_body(strip_trailing_lines(body)))


def _plain_piece(piece: bytes) -> bool:
    """True when relaxed canonicalisation leaves ``piece`` as it is, even beside others: no
    tab, no run of spaces, no blank before a line end, no blank at either edge."""
    return not (
        b"\t" in piece or b"  " in piece or b" \r\n" in piece or piece[:1] == b" "
        or piece[-1:] == b" "
    )  # fmt: skip


class PieceHasher:
    """The relaxed body hash of copies that share literal chunks and differ in small values.

    ``chunks`` are the body's literal pieces in order (values go between them), each starting
    and ending at a point where canonicalisation is local: they are canonicalised once here.
    ``digest(values)`` then hashes chunk, value, chunk … and canonicalises only the values; a
    value that canonicalisation would change (a tab, a run of spaces) returns ``None`` and
    the caller falls back to ``DkimSigner.sign``.
    """

    def __init__(self, chunks: list[bytes]):
        canonical = [_TRAILING_SPACES.sub(b"\r\n", c) for c in chunks]
        canonical = [_SPACE_RUNS.sub(b" ", c) for c in canonical]
        edges_plain = all(c[:1] != b" " and c[-1:] != b" " for c in chunks)
        self.usable = edges_plain and b"\t" not in b"".join(chunks) and bool(chunks[-1].strip())
        canonical[-1] = bytes(strip_trailing_lines(canonical[-1]))
        self._chunks = canonical

    def digest(self, values: list[bytes]) -> bytes | None:
        if not self.usable or not all(_plain_piece(v) for v in values):
            return None
        h = hashlib.sha256(self._chunks[0])
        for value, chunk in zip(values, self._chunks[1:], strict=True):
            h.update(value)
            h.update(chunk)
        return h.digest()


def oversigned(grouped: dict[bytes, list[bytes]]) -> list[bytes]:
    """``h=``: each header of ``SIGNED_HEADERS`` once more than it occurs."""
    return [name for name in SIGNED_HEADERS for _ in range(len(grouped.get(name, ())) + 1)]


class DkimSigner:
    """Signs each copy (To and Message-ID differ per recipient, so each needs its own)."""

    def __init__(
        self,
        domain: str,
        selector: str,
        key_file: Path,
        *,
        ed25519_selector: str | None = None,
        ed25519_key_file: Path | None = None,
    ):
        self.domain = domain.encode("ascii")
        self.keys = [
            _Key(b"rsa-sha256", selector.encode("ascii"),
                 _load_key(key_file, "dkim.key_file", rsa.RSAPrivateKey)),
        ]  # fmt: skip
        if ed25519_selector and ed25519_key_file:
            key = _load_key(ed25519_key_file, "dkim.ed25519_key_file", ed25519.Ed25519PrivateKey)
            self.keys.append(_Key(b"ed25519-sha256", ed25519_selector.encode("ascii"), key))

    @classmethod
    def from_config(cls, dkim: Dkim) -> DkimSigner:
        return cls(
            dkim.domain, dkim.selector, dkim.key_file,
            ed25519_selector=dkim.ed25519_selector, ed25519_key_file=dkim.ed25519_key_file,
        )  # fmt: skip

    def sign(self, message: bytes, *, now: float | None = None) -> bytes:
        """``message`` with one DKIM-Signature per key prepended, RSA on top (a receiver that
        checks only the first signature checks the one every receiver understands)."""
        end = message.find(b"\r\n\r\n")
        body = b"" if end < 0 else message[end + 4 :]
        return self.signatures(message, hashlib.sha256(relaxed_body(body)).digest(), now) + message

    def signatures(
        self,
        message: bytes,
        body_hash: bytes,
        now: float | None = None,
        *,
        below: dict[bytes, list[bytes]] | None = None,
    ) -> bytes:
        """The DKIM-Signature headers for ``message`` (only its header block is read), given the
        SHA-256 of its relaxed body — which ``PieceHasher`` computes without re-reading the
        shared parts of every copy. ``below``: the rest of the header block, already read by
        ``header_block`` (the headers every copy shares), when ``message`` holds only the
        headers that come before it."""
        grouped = _headers(message)
        for name, fields in (below or {}).items():
            grouped[name] = grouped.get(name, []) + fields
        return self._sign_headers(grouped, base64.b64encode(body_hash), now)

    @staticmethod
    def header_block(head: bytes) -> dict[bytes, list[bytes]]:
        """``head`` read once, to be passed as ``signatures(below=…)`` for every copy."""
        return _headers(head)

    def _sign_headers(
        self, grouped: dict[bytes, list[bytes]], body_hash: bytes, now: float | None
    ) -> bytes:
        include = oversigned(grouped)
        signed = _header_data(grouped, include)
        stamp = str(int(time.time() if now is None else now)).encode("ascii")
        return b"".join(self._signature(k, signed, include, body_hash, stamp) for k in self.keys)

    def _signature(
        self, key: _Key, signed: bytes, include: list[bytes], body_hash: bytes, stamp: bytes
    ) -> bytes:
        fields = [
            (b"v", b"1"), (b"a", key.algorithm), (b"c", b"relaxed/relaxed"), (b"d", self.domain),
            (b"s", key.selector), (b"t", stamp), (b"h", b" : ".join(include)), (b"bh", body_hash),
            (b"b", b""),
        ]  # fmt: skip
        name = b"DKIM-Signature"
        value: bytes = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(name))
        # The signature header itself, relaxed, b= empty and without its CRLF, comes last.
        own = _relaxed_header(name + b": " + value)[1]
        signature = base64.b64encode(key.sign(hashlib.sha256(signed + own).digest()))
        # b= goes last on a line of its own, folded every 72 characters: receivers that
        # mishandle a folded b= are rarer than ones that mishandle an over-long line.
        folded = b"\r\n\t".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return name + b": " + value + b"\r\n\t" + folded + b"\r\n"
