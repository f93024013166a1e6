"""Throwaway DKIM keys for tests, and the DNS answers a verifier would get for them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

DOMAIN = "reel.example.org"
RSA_SELECTOR = "s2026"
ED_SELECTOR = "e2026"


def write_keys(folder: Path) -> dict[bytes, bytes]:
    """Write ``rsa.pem`` and ``ed25519.pem`` into ``folder``; return DNS name → TXT record."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    for name, key in (("rsa.pem", rsa_key), ("ed25519.pem", ed_key)):
        (folder / name).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    rsa_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {
        f"{RSA_SELECTOR}._domainkey.{DOMAIN}.".encode(): b"v=DKIM1; k=rsa; p="
        + base64.b64encode(rsa_public),
        f"{ED_SELECTOR}._domainkey.{DOMAIN}.".encode(): b"v=DKIM1; k=ed25519; p="
        + base64.b64encode(ed_public),
    }


def dkim_config(ed25519: bool = True) -> dict[str, str]:
    """The ``dkim:`` section for keys written by ``write_keys`` in the config's folder."""
    section = {"domain": DOMAIN, "selector": RSA_SELECTOR, "key_file": "rsa.pem"}
    if ed25519:
        section.update(ed25519_selector=ED_SELECTOR, ed25519_key_file="ed25519.pem")
    return section


def dns(records: dict[bytes, bytes]) -> Callable[..., bytes | None]:
    """A ``dnsfunc`` for ``dkim.verify``: answers from ``records``, nothing from the network."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup
