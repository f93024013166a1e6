"""The DKIM part of the send benchmark (``bench/send.py --dkim N``): the same send unsigned,
RSA-signed and RSA + Ed25519-signed, side by side, and 1,000 copies signed the way digest did
before issue 14 (dkimpy's pure-Python ``sign``); then one copy's CPU cost each way."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from send import _run_child
from send_setup import NOW, _prepare


def _template(config: object, rendered: object, signer: object) -> Any:
    from digest.deliver.message import MessageTemplate

    return MessageTemplate.of_rendering(
        config,  # type: ignore[arg-type]
        rendered,  # type: ignore[arg-type]
        date=NOW,
        signer=signer,  # type: ignore[arg-type]
    )


def sign_as_before() -> None:
    """Make this child sign the way digest did before issue 14: dkimpy's ``sign`` (pure-Python
    RSA, ``c=relaxed/simple``, each header once) over each whole copy."""
    import dkim

    from digest.deliver import dkim as ours

    old_headers = [
        b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
        b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type",
    ]  # fmt: skip

    def sign(self: Any, message: bytes, *, now: float | None = None) -> bytes:
        key = self._pem  # type: ignore[attr-defined]
        signature: bytes = dkim.sign(
            message, b"b1", b"bench.example.org", key, include_headers=old_headers,
            linesep=b"\r\n",
        )  # fmt: skip
        return signature + message

    original_init = ours.DkimSigner.__init__

    def init(self: Any, domain: str, selector: str, key_file: Path, **kw: Any) -> None:
        original_init(self, domain, selector, key_file, **kw)
        self._pem = key_file.read_bytes()

    ours.DkimSigner.__init__ = init  # type: ignore[method-assign]
    ours.DkimSigner.sign = sign  # type: ignore[method-assign]
    ours.PieceHasher.digest = lambda self, values: None  # type: ignore[method-assign]


_LABELS = {"": "unsigned", "rsa": "RSA", "rsa+ed25519": "RSA + Ed25519",
           "before": "RSA, dkimpy (before)"}  # fmt: skip


def signed_side_by_side(base: Path, n: int, rendered: object, port: int, conns: int) -> None:
    """The same send unsigned, RSA-signed and RSA + Ed25519-signed, one after the other."""
    print(f"\nDKIM, {n} subscribers each ({min(n, 1000)} for the old dkimpy signing):")
    rates = {}
    for kind in ("", "rsa", "rsa+ed25519", "before"):
        count = min(n, 1000) if kind == "before" else n
        dkim_kind = "rsa" if kind == "before" else kind
        path = _prepare(base / f"dkim-{kind or 'none'}", count, rendered, port, conns, dkim_kind)
        figures = _run_child(path, as_before=kind == "before")
        rates[kind] = figures["rate"]
        print(
            f"  {_LABELS.get(kind, kind):>22}: {figures['rate']:6.0f} msgs/s "
            f"({figures['elapsed']:.1f} s, {figures['cpu']:.1f} s CPU, "
            f"VmHWM {figures['peak_mb']:.1f} MB)"
        )
    print(
        f"  signed/unsigned: RSA {rates['rsa'] / rates['']:.2f}, "
        f"RSA + Ed25519 {rates['rsa+ed25519'] / rates['']:.2f}; "
        f"RSA-signed vs signing as before (dkimpy), this run: {rates['rsa'] / rates['before']:.1f}×"
    )
    _signing_cost(base / "dkim-rsa", rendered)


def _signing_cost(folder: Path, rendered: object) -> None:
    """CPU per copy, now, on this machine — making it unsigned, making it signed (digest's
    template path: cryptography, shared body chunks), and dkimpy's ``sign`` on the same copy
    (pure-Python RSA, what digest used before) — so load on the machine cancels out."""
    import dkim

    from digest.config import load_config
    from digest.deliver.dkim import DkimSigner
    from digest.deliver.message import Recipient

    who = Recipient("reader000000@example.net", "Reader 0", secrets.token_urlsafe(32))
    config = load_config(folder / "config.yaml")
    assert config.dkim is not None
    plain, signed = (
        _template(config, rendered, s) for s in (None, DkimSigner.from_config(config.dkim))
    )
    key = (folder / "dkim.pem").read_bytes()
    copy = plain.render(who)
    timings = {}
    for label, make, n in (
        ("unsigned", lambda: plain.render(who), 400),
        ("digest-signed", lambda: signed.render(who), 400),
        ("dkimpy.sign alone", lambda: dkim.sign(copy, b"b1", b"bench.example.org", key), 20),
    ):
        started = time.process_time()
        for _ in range(n):
            make()
        timings[label] = (time.process_time() - started) / n
    ours = timings["digest-signed"] - timings["unsigned"]
    print(
        "  CPU to make one copy (not to send it): "
        + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in timings.items())
        + f"; signing costs {ours * 1000:.2f} ms, {timings['dkimpy.sign alone'] / ours:.0f}× less"
        " than dkimpy's"
    )
