"""Inbound mail fixtures (``tests/inbound/mail/*.eml``, our own text in real shapes), filled
in for one subscriber: ``{ADDRESS}``, ``{TOKEN}`` (their unsubscribe token), ``{MSGID}`` and
``{VERP}`` (the envelope sender their copy went out with, which a bounce comes back to)."""

from __future__ import annotations

from pathlib import Path

MAIL = Path(__file__).resolve().parents[1] / "inbound" / "mail"
TOKEN = "T" * 18 + "okenOfTheReaderForTests01"  # 43 URL-safe characters, like the real ones
MSGID = "<2026-W48.0123456789abcdef01234567@reel.example.org>"


def mail(name: str, address: str = "sam@example.net", token: str = TOKEN,
         msgid: str = MSGID, verp: str = "") -> bytes:  # fmt: skip
    text = (MAIL / f"{name}.eml").read_text(encoding="utf-8")
    text = text.replace("{ADDRESS}", address).replace("{TOKEN}", token).replace("{MSGID}", msgid)
    text = text.replace("{VERP}", verp)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
