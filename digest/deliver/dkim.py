"""DKIM signatures for each copy: RSA-SHA256 and, optionally, a second Ed25519-SHA256 (RFC 8463).

dkimpy's own ``sign`` does the RSA arithmetic in pure Python (about 16 ms a message, holding the
GIL); here the signature itself comes from ``cryptography`` (OpenSSL), while the
canonicalisation, header selection and tag folding are dkimpy's own functions — the same code
its ``verify`` runs, which the tests use to check every copy.

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
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy

from digest.errors import ConfigError

#: Signed in this order, each listed once more than it occurs (see the module docstring).
SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post", b"list-archive", b"list-help",
    b"feedback-id", b"precedence", b"auto-submitted", b"mime-version", b"content-type",
)  # fmt: skip
_CANON = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")


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


def _split(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """(headers, body) as dkimpy expects them; only the header block is parsed line by line."""
    end = message.find(b"\r\n\r\n")
    head, body = (message, b"") if end < 0 else (message[: end + 2], message[end + 4 :])
    headers, _ = dkim.rfc822_parse(head + b"\r\n")
    return headers, body


def oversigned(headers: list[list[bytes]]) -> list[bytes]:
    """``h=``: each header of ``SIGNED_HEADERS`` once more than it occurs in ``headers``."""
    counts = Counter(name.lower() for name, _ in headers)
    return [name for name in SIGNED_HEADERS for _ in range(counts[name] + 1)]


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

    def sign(self, message: bytes, *, now: float | None = None) -> bytes:
        """``message`` with one DKIM-Signature per key prepended (RSA outermost)."""
        headers, body = _split(message)
        body_hash = base64.b64encode(hashlib.sha256(_CANON.canonicalize_body(body)).digest())
        include = oversigned(headers)
        canonical = _CANON.canonicalize_headers(headers)
        stamp = str(int(time.time() if now is None else now)).encode("ascii")
        signatures = [self._signature(k, canonical, include, body_hash, stamp) for k in self.keys]
        return b"".join(reversed(signatures)) + message

    def _signature(
        self,
        key: _Key,
        canonical: list[Any],
        include: list[bytes],
        body_hash: bytes,
        stamp: bytes,
    ) -> bytes:
        fields = [
            (b"v", b"1"), (b"a", key.algorithm), (b"c", b"relaxed/relaxed"), (b"d", self.domain),
            (b"s", key.selector), (b"t", stamp), (b"h", b":".join(include)), (b"bh", body_hash),
            (b"b", b""),
        ]  # fmt: skip
        name = b"DKIM-Signature"
        value: bytes = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(name))
        hasher = hashlib.sha256()
        dkim.hash_headers(hasher, _CANON, canonical, include, (name, b" " + value), dict(fields))
        signature = base64.b64encode(key.sign(hasher.digest()))
        # b= goes last on a line of its own, folded every 72 characters: receivers that
        # mishandle a folded b= are rarer than ones that mishandle an over-long line.
        folded = b"\r\n\t".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return name + b": " + value + b"\r\n\t" + folded + b"\r\n"
