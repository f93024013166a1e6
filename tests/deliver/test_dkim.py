"""DKIM: every copy the SMTP sink receives verifies with dkimpy (RSA and Ed25519), tampering
breaks it, relaxed canonicalisation survives re-wrapped whitespace, identity headers are
oversigned."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import dkim
import pytest
from support.dkim_keys import dkim_config, dns, write_keys
from support.render_reviews import sample_reviews
from support.smtp import NOW, Sink, add_subscribers, record, write_config

from digest.config import Config, load_config
from digest.deliver import SmtpTransport
from digest.deliver.dkim import DkimSigner
from digest.errors import ConfigError
from digest.period import current_period
from digest.pipeline.run import run_once
from digest.render.compose import render_digest

IDENTITY = (
    "from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
    "mime-version", "content-type",
)  # fmt: skip


def _config(tmp_path: Path, port: int, *, ed25519: bool = True) -> Config:
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "rate": 0, "retries": 1}
    return load_config(write_config(tmp_path, smtp=smtp, dkim=dkim_config(ed25519)))


def _sent_copies(tmp_path: Path, count: int = 3, *, ed25519: bool = True) -> list[bytes]:
    records = write_keys(tmp_path)
    with Sink() as sink:
        config = _config(tmp_path, sink.port, ed25519=ed25519)
        add_subscribers(config, count)
        period = current_period(config, NOW)
        record(config, render_digest(config, period, sample_reviews(), now=NOW))
        assert config.smtp is not None
        result = run_once(config, now=NOW, transport=SmtpTransport(config.smtp))
        assert result.sent == count
        received = [r.data for r in sink.received]
    assert len(received) == count
    _RECORDS.update(records)
    return received


_RECORDS: dict[bytes, bytes] = {}


def _verify(data: bytes, idx: int = 0) -> bool:
    return bool(dkim.DKIM(data).verify(idx=idx, dnsfunc=dns(_RECORDS)))


def _tags(data: bytes, idx: int = 0) -> dict[bytes, bytes]:
    d = dkim.DKIM(data)
    sigs = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
    return dkim.util.parse_tag_value(sigs[idx])  # type: ignore[no-any-return]


@pytest.fixture
def copies(tmp_path: Path) -> list[bytes]:
    _RECORDS.clear()
    return _sent_copies(tmp_path)


def test_every_received_copy_verifies_with_both_signatures(copies: list[bytes]) -> None:
    for data in copies:
        assert data.startswith(b"DKIM-Signature:")
        rsa_tags, ed_tags = _tags(data, 0), _tags(data, 1)
        assert rsa_tags[b"a"] == b"rsa-sha256" and ed_tags[b"a"] == b"ed25519-sha256"
        for tags in (rsa_tags, ed_tags):
            assert tags[b"c"] == b"relaxed/relaxed" and tags[b"d"] == b"reel.example.org"
            assert b"l" not in tags  # no body length: nothing can be appended under it
        assert _verify(data, 0) and _verify(data, 1)


def test_identity_headers_are_signed_once_more_than_they_occur(copies: list[bytes]) -> None:
    data = copies[0]
    signed = [h.decode() for h in re.split(rb"\s*:\s*", _tags(data)[b"h"])]
    headers = [k.decode().lower() for k, _ in dkim.DKIM(data).headers]
    for name in IDENTITY:
        assert signed.count(name) == headers.count(name) + 1, name
    assert signed.count("reply-to") == 2 and signed.count("list-id") == 2
    # A second From: prepended on the way (the classic display trick) fails verification.
    forged = b"From: Your Bank <alerts@bank.example>\r\n" + data
    assert not _verify(forged, 0) and not _verify(forged, 1)


def test_a_tampered_header_or_body_fails(copies: list[bytes]) -> None:
    data = copies[0]
    subject = re.search(rb"^Subject: .*$", data, re.M)
    assert subject is not None
    tampered_header = data.replace(subject.group(0), b"Subject: You have won", 1)
    tampered_body = data.replace(b"Unsubscribe", b"Unsubscribf", 1)
    unsubscribe = data.replace(b"/unsubscribe/", b"/unsubscrib3/", 1)
    for bad in (tampered_header, tampered_body, unsubscribe):
        assert bad != data
        assert not _verify(bad, 0) and not _verify(bad, 1)


def test_relaxed_canonicalisation_survives_rewrapped_whitespace(copies: list[bytes]) -> None:
    data = copies[0]
    head, body = data.split(b"\r\n\r\n", 1)
    # A relay re-folds a header and pads body lines: trailing blanks, doubled spaces, tabs.
    head = head.replace(b"\r\nSubject: ", b"\r\nSubject:   \r\n\t ", 1)
    lines = body.split(b"\r\n")
    body = b"\r\n".join(
        line.replace(b" ", b"  \t") + (b" \t " if i % 3 == 0 and line else b"")
        for i, line in enumerate(lines)
    )
    rewrapped = head + b"\r\n\r\n" + body + b"\r\n\r\n\r\n"
    assert rewrapped != data
    assert _verify(rewrapped, 0) and _verify(rewrapped, 1)


def test_rsa_only_when_no_ed25519_key_is_configured(tmp_path: Path) -> None:
    _RECORDS.clear()
    for data in _sent_copies(tmp_path, 2, ed25519=False):
        assert data.count(b"DKIM-Signature:") == 1 and _verify(data)


def test_a_wrong_key_file_is_a_config_error(tmp_path: Path) -> None:
    write_keys(tmp_path)
    with pytest.raises(ConfigError, match="not an RSA private key"):
        DkimSigner("reel.example.org", "s1", tmp_path / "ed25519.pem")
    with pytest.raises(ConfigError, match="not an Ed25519 private key"):
        DkimSigner("reel.example.org", "s1", tmp_path / "rsa.pem",
                   ed25519_selector="e1", ed25519_key_file=tmp_path / "rsa.pem")  # fmt: skip
    with pytest.raises(ConfigError, match="can't read the DKIM private key"):
        DkimSigner("reel.example.org", "s1", tmp_path / "missing.pem")


def test_the_shared_body_hash_matches_dkimpy_for_any_recipient_value(tmp_path: Path) -> None:
    from support.smtp import rendered_digest

    from digest.deliver.message import MessageTemplate, Recipient

    _RECORDS.clear()
    _RECORDS.update(write_keys(tmp_path))
    config = load_config(write_config(tmp_path, dkim=dkim_config()))
    assert config.dkim is not None
    signer = DkimSigner.from_config(config.dkim)
    r = rendered_digest(config, html_extra="<p>two  spaces\tand a tab </p>")
    template = MessageTemplate(
        config=config, issue_key=r.period.key, subject=r.subject, html_body=r.html,
        text_body=r.text, markers=r.markers, date=NOW, signer=signer,
    )  # fmt: skip
    assert not template._hasher.usable  # the tab sends every copy down dkimpy's own path
    r = rendered_digest(config, html_extra="<p>two  spaces, trailing blanks   </p>")
    template = MessageTemplate(
        config=config, issue_key=r.period.key, subject=r.subject, html_body=r.html,
        text_body=r.text, markers=r.markers, date=NOW, signer=signer,
    )  # fmt: skip
    assert template._hasher.usable
    # Plain names take the shared-chunk path; odd ones (a tab, a run of spaces) the full one.
    for name in ("Ann", "Zo\u00eb \u201cQ\u201d", "Tab\there", "Two  spaces", " edge ", ""):
        data = template.render(Recipient("ann@example.org", name, "tok_1"))
        body = data.split(b"\r\n\r\n", 1)[1]
        canonical = dkim.canonicalization.CanonicalizationPolicy.from_c_value(
            b"relaxed/relaxed"
        ).canonicalize_body(body)
        assert _tags(data)[b"bh"] == base64.b64encode(hashlib.sha256(canonical).digest())
        assert _verify(data, 0) and _verify(data, 1), name


def test_the_ed25519_selector_and_key_file_go_together(tmp_path: Path) -> None:
    half = {**dkim_config(ed25519=False), "ed25519_selector": "e2026"}
    with pytest.raises(ConfigError, match="ed25519_selector and ed25519_key_file go together"):
        load_config(write_config(tmp_path, dkim=half))


def test_an_ed25519_key_as_dknewkey_writes_it_signs_and_verifies(tmp_path: Path) -> None:
    import nacl.encoding
    import nacl.signing
    from support.smtp import rendered_digest

    from digest.deliver.message import MessageTemplate, Recipient

    records = write_keys(tmp_path)
    seed = nacl.signing.SigningKey.generate()
    (tmp_path / "dknewkey.key").write_bytes(seed.encode(encoder=nacl.encoding.Base64Encoder))
    public = seed.verify_key.encode(encoder=nacl.encoding.Base64Encoder)
    records[b"e2026._domainkey.reel.example.org."] = b"v=DKIM1; k=ed25519; p=" + public
    _RECORDS.clear()
    _RECORDS.update(records)
    key = tmp_path / "dknewkey.key"
    signer = DkimSigner(
        "reel.example.org", "s2026", tmp_path / "rsa.pem", ed25519_selector="e2026",
        ed25519_key_file=key,
    )  # fmt: skip
    config = load_config(write_config(tmp_path))
    r = rendered_digest(config)
    template = MessageTemplate(
        config=config, issue_key=r.period.key, subject=r.subject, html_body=r.html,
        text_body=r.text, markers=r.markers, date=NOW,
    )  # fmt: skip
    data = signer.sign(template.render(Recipient("ann@example.org", "Ann", "tok_1")))
    assert _tags(data, 1)[b"a"] == b"ed25519-sha256" and _verify(data, 1) and _verify(data, 0)
