"""Delivery to a real SMTP server (aiosmtpd on loopback) with STARTTLS and AUTH."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

import pytest
from support.smtp import (
    NOW,
    Sink,
    add_subscribers,
    delivery_states,
    make_tls,
    record,
    rendered_digest,
    write_config,
)

from digest.config import Config, load_config
from digest.deliver import SmtpTransport
from digest.errors import DeliveryError
from digest.pipeline.run import run_once
from digest.state import db


def _smtp_config(tmp_path: Path, port: int, **smtp: object) -> Config:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "connections": 2,
        "rate": 0,
        "timeout": 10,
        "retries": 1,
        **smtp,
    }
    return load_config(write_config(tmp_path, smtp=settings))


def _transport(config: Config) -> SmtpTransport:
    assert config.smtp is not None
    return SmtpTransport(
        config.smtp, password=config.smtp.password(str(config.path)), backoff_base=0.01
    )


def test_starttls_and_auth_deliver_one_personal_copy_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_tls(tmp_path)
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pass")
    with Sink(tls=tls.server_context, users={"digest": "s3cret-pass"}) as sink:
        config = _smtp_config(
            tmp_path,
            sink.port,
            username="digest",
            password_env="SMTP_PASSWORD",
            ca_file=str(tls.ca_file),
        )
        emails = add_subscribers(config, 5)
        rendered = rendered_digest(config)
        record(config, rendered)
        result = run_once(config, now=NOW, transport=_transport(config))
        received = sink.received
    assert result.outcome == "sent" and result.sent == 5
    # One login per connection (two connections), each reused for several messages.
    assert sink.auth_attempts and set(sink.auth_attempts) == {("digest", "s3cret-pass")}
    assert len(sink.auth_attempts) <= 2
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(emails)
    assert all(len(r.rcpt_tos) == 1 and r.mail_from == "news@reel.example.org" for r in received)
    conn = db.connect(config.state)
    tokens = dict(conn.execute("SELECT email, token FROM subscribers").fetchall())
    ids = set()
    for r in received:
        msg = r.message
        to = r.rcpt_tos[0]
        assert msg["To"] == to
        url = f"https://reel.example.org/unsubscribe/{tokens[to]}"
        assert url in msg["List-Unsubscribe"]
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content().count(url) == 1 and html.get_content().count(url) == 1
        others = [t for e, t in tokens.items() if e != to]
        assert not any(t in r.data.decode() for t in others)
        ids.add(msg["Message-ID"])
        assert msg["Subject"] == "Three new reviews"
    assert len(ids) == 5
    assert {s for s, _ in delivery_states(config, rendered.period.key).values()} == {"sent"}
    row = conn.execute("SELECT status FROM issues").fetchone()
    assert row["status"] == "done"


def test_maildir_files_hold_exactly_the_bytes_smtp_carries(tmp_path: Path) -> None:
    with Sink() as sink:
        smtp_config = _smtp_config(tmp_path / "a", sink.port, security="none")
        add_subscribers(smtp_config, 3)
        r = rendered_digest(smtp_config)
        record(smtp_config, r)
        run_once(smtp_config, now=NOW, transport=_transport(smtp_config))
        over_smtp = {x.rcpt_tos[0]: x.data for x in sink.received}
    maildir_config = load_config(write_config(tmp_path / "b"))
    add_subscribers(maildir_config, 3)
    # The same rendering and the same tokens: copy the subscriber rows across.
    src = db.connect(smtp_config.state)
    dst = db.connect(maildir_config.state)
    for email, token in src.execute("SELECT email, token FROM subscribers"):
        dst.execute("UPDATE subscribers SET token = ? WHERE email = ?", (token, email))
    record(maildir_config, r)
    result = run_once(maildir_config, now=NOW)
    assert result.sent == 3
    box = mailbox.Maildir(maildir_config.outbox, create=False)
    files = {}
    for key in box.iterkeys():
        data = box.get_bytes(key)
        to = data.split(b"To: ", 1)[1].split(b"\r\n", 1)[0].decode()
        files[to] = data
    assert set(files) == set(over_smtp)

    def normalised(data: bytes) -> bytes:
        # Each build has its own random MIME boundary and its Date, and each state file its own
        # issue nonce, so its own Message-IDs (never two alike); everything else is equal.
        boundary = re.search(rb'boundary="([^"]+)"', data)
        assert boundary is not None
        data = data.replace(boundary.group(1), b"BOUNDARY")
        return re.sub(rb"\r\n(Date|Message-ID): [^\r]+", b"", data)

    for to, data in files.items():
        assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
        assert normalised(data) == normalised(over_smtp[to])


def test_a_certificate_the_client_does_not_trust_is_refused(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with Sink(tls=tls.server_context) as sink:
        config = _smtp_config(tmp_path, sink.port)  # no ca_file: the test CA is not trusted
        add_subscribers(config, 2)
        r = rendered_digest(config)
        record(config, r)
        with pytest.raises(DeliveryError, match=r"certificate .* could not be verified"):
            run_once(config, now=NOW, transport=_transport(config))
        assert sink.received == []
    assert {s for s, _ in delivery_states(config, r.period.key).values()} == {"pending"}


def test_a_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    tls = make_tls(tmp_path, hostname="mail.other.example")
    with Sink(tls=tls.server_context) as sink:
        config = _smtp_config(tmp_path, sink.port, ca_file=str(tls.ca_file))
        add_subscribers(config, 1)
        record(config, rendered_digest(config))
        with pytest.raises(DeliveryError, match="could not be verified"):
            run_once(config, now=NOW, transport=_transport(config))
        assert sink.received == []


def test_a_refused_login_stops_the_send_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_tls(tmp_path)
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    with Sink(tls=tls.server_context, users={"digest": "right"}) as sink:
        config = _smtp_config(
            tmp_path,
            sink.port,
            username="digest",
            password_env="SMTP_PASSWORD",
            ca_file=str(tls.ca_file),
        )
        add_subscribers(config, 3)
        r = rendered_digest(config)
        record(config, r)
        with pytest.raises(
            DeliveryError, match=r"refused the login as digest \(535.*SMTP_PASSWORD"
        ):
            run_once(config, now=NOW, transport=_transport(config))
        assert sink.received == []
    assert {s for s, _ in delivery_states(config, r.period.key).values()} == {"pending"}
    # Fixed password: the next run sends everything, once.
    monkeypatch.setenv("SMTP_PASSWORD", "right")
    with Sink(tls=tls.server_context, users={"digest": "right"}) as sink:
        config = _smtp_config(
            tmp_path,
            sink.port,
            username="digest",
            password_env="SMTP_PASSWORD",
            ca_file=str(tls.ca_file),
        )
        result = run_once(config, now=NOW, transport=_transport(config))
        assert result.sent == 3 and len(sink.received) == 3


def test_dkim_signature_verifies_for_every_copy(tmp_path: Path) -> None:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record_txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    config = load_config(
        write_config(
            tmp_path, dkim={"domain": "reel.example.org", "selector": "s1", "key_file": "dkim.pem"}
        )
    )
    add_subscribers(config, 2)
    record(config, rendered_digest(config))
    assert run_once(config, now=NOW).sent == 2
    box = mailbox.Maildir(config.outbox, create=False)
    for k in box.iterkeys():
        data = box.get_bytes(k)
        assert data.startswith(b"DKIM-Signature:")
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record_txt)
        tampered = data.replace(b"Unsubscribe", b"Unsubscribf", 1)
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record_txt)


def test_implicit_tls_delivers_and_verifies_the_certificate(tmp_path: Path) -> None:
    # (aiosmtpd offers AUTH only after STARTTLS, so login is covered by the starttls tests.)
    tls = make_tls(tmp_path)
    with Sink(implicit_tls=tls.server_context) as sink:
        config = _smtp_config(tmp_path, sink.port, security="ssl", ca_file=str(tls.ca_file))
        add_subscribers(config, 3)
        record(config, rendered_digest(config))
        result = run_once(config, now=NOW, transport=_transport(config))
        assert result.sent == 3 and len(sink.received) == 3
    with Sink(implicit_tls=tls.server_context) as sink:
        untrusted = _smtp_config(tmp_path / "other", sink.port, security="ssl")
        add_subscribers(untrusted, 1)
        record(untrusted, rendered_digest(untrusted))
        with pytest.raises(DeliveryError, match="could not be verified"):
            run_once(untrusted, now=NOW, transport=_transport(untrusted))
        assert sink.received == []


def test_a_hostile_title_reaches_the_server_as_one_harmless_subject(tmp_path: Path) -> None:
    hostile = (
        "Night =?utf-8?q?Bus=0D=0ABcc:_victim@example.com?=\r\nX-Injected: yes\u2028Reply-To: "
        "thief@example.com and 2 more reviews"
    )
    with Sink() as sink:
        config = _smtp_config(tmp_path, sink.port, security="none")
        add_subscribers(config, 2)
        record(config, rendered_digest(config, subject=hostile))
        assert run_once(config, now=NOW, transport=_transport(config)).sent == 2
        received = sink.received
    assert len(received) == 2
    for r in received:
        assert len(r.rcpt_tos) == 1 and "victim" not in r.rcpt_tos[0]
        msg = r.message
        assert msg["Bcc"] is None and msg["X-Injected"] is None
        assert msg.get_all("Reply-To") == ["editor@reel.example.org"]
        assert msg["Subject"] == (
            "Night Bus Bcc: victim@example.com X-Injected: yes Reply-To: thief@example.com "
            "and 2 more reviews"
        )
