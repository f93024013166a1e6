"""What every section model of ``config.yaml`` shares: frozen, unknown keys refused, and the
checks several sections use (URLs, mailboxes, durations, loopback hosts)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def check_mailbox(value: str) -> str:
    name, addr = parseaddr(value)
    if not addr or "@" not in addr or any(c in value for c in "\r\n"):
        raise ValueError(f'expected an address like "Name <news@example.org>", got {value!r}')
    Address(display_name=name, addr_spec=addr)  # raises on malformed local part / domain
    if not addr.isascii():
        raise ValueError(
            f"the address {addr!r} is not ASCII; write the domain in its xn-- (IDNA) form"
        )
    # Exactly what the message does with it: Python's header parser decodes RFC 2047 words, so
    # a name such as "=?utf-8?q?=0D=0A?=" only fails here, not in parseaddr.
    trial = EmailMessage(policy=policy.SMTP)
    try:
        trial["From"] = value
        trial.as_bytes()
    except (ValueError, TypeError, IndexError, HeaderParseError) as e:
        raise ValueError(f"can't be written into a header ({e}); got {value!r}") from None
    return value


def parse_duration(value: str | int | float) -> timedelta:
    """``90s``, ``30m``, ``6h``, ``2d``, ``1w`` or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value))
    if not m:
        raise ValueError(f"expected a duration such as 90s, 30m, 6h or 2d, got {value!r}")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return timedelta(seconds=float(m.group(1)) * unit)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
