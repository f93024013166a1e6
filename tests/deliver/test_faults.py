"""A scripted SMTP server misbehaves; each fault ends in the state the README promises.

Policy under test (README "Delivery guarantees"):
- 4xx → retried with back-off up to smtp.retries, then ``deferred`` (tried again next run);
- 5xx about a recipient → ``failed`` with the server's reason; 550/551/553 at RCPT also marks
  the address bounced (a refused *sender*: test_sender_refused.py);
- connection lost before the final "." → retried (nothing was delivered);
- connection lost after the final "." → ``unknown``, never re-sent automatically;
- 421 (greeting or any reply) → reconnect with back-off;
- no STARTTLS on offer, or a refused login → nothing sent, ``DeliveryError``, rows pending.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.scripted import scripted_config, scripted_send, scripted_setup, statuses
from support.smtp import (
    DROP_AFTER_DOT,
    DROP_MID_DATA,
    NOW,
    Script,
    ScriptedServer,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
)

from digest.deliver import SmtpTransport
from digest.errors import DeliveryError
from digest.pipeline.run import run_once
from digest.state import db, ledger


def test_421_greeting_reconnects_and_delivers(tmp_path: Path) -> None:
    with ScriptedServer(Script(greetings=["421 4.3.2 busy, try later"])) as server:
        config = scripted_setup(tmp_path, server, 3)
        scripted_send(config)
    assert statuses(config) == ["sent"] * 3
    assert server.transcript.connections >= 2 and len(server.transcript.accepted) == 3


def test_421_greeting_that_never_ends_stops_with_nothing_lost(tmp_path: Path) -> None:
    with ScriptedServer(Script(greetings=["421 4.3.2 busy"] * 10)) as server:
        config = scripted_setup(tmp_path, server, 3, retries=1)
        with pytest.raises(DeliveryError, match=r"421 4\.3\.2 busy"):
            scripted_send(config)
    assert statuses(config) == ["pending"] * 3
    assert server.transcript.accepted == []


def test_451_at_rcpt_is_retried_then_sent(tmp_path: Path) -> None:
    script = Script(replies={"RCPT": ["451 4.7.1 greylisted", "451 4.7.1 greylisted"]})
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 2)
        scripted_send(config)
    assert statuses(config) == ["sent", "sent"]
    assert len(server.transcript.accepted) == 2
    assert server.transcript.commands.count("RSET") == 2  # each refused transaction reset


def test_451_beyond_the_retries_is_deferred_and_retried_next_run(tmp_path: Path) -> None:
    script = Script(replies={"RCPT": ["451 4.7.1 greylisted"] * 3})
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 2, retries=2)
        result = scripted_send(config)
        states = delivery_states(config, "2026-W48")
        deferred = [e for e, (s, _) in states.items() if s == "deferred"]
        assert len(deferred) == 1 and "451 4.7.1 greylisted" in states[deferred[0]][1]
        assert result.outcome == "incomplete"
        conn = db.connect(config.state)
        assert ledger.get_issue(conn, "2026-W48").status == "sending"  # type: ignore[union-attr]
        # The next run retries only the deferred copy.
        scripted_send(config)
        assert ledger.get_issue(conn, "2026-W48").status == "done"  # type: ignore[union-attr]
    assert statuses(config) == ["sent", "sent"]
    assert len(server.transcript.accepted) == 2


@pytest.mark.parametrize("pipelining", [True, False])
def test_550_at_rcpt_fails_that_recipient_and_marks_the_address_bounced(
    tmp_path: Path, pipelining: bool
) -> None:
    script = Script(
        replies={"RCPT": ["550 5.1.1 no such mailbox here"]},
        extensions=["PIPELINING"] if pipelining else ["8BITMIME"],
    )
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 3)
        scripted_send(config)
    states = delivery_states(config, "2026-W48")
    failed = [e for e, (s, _) in states.items() if s == "failed"]
    assert len(failed) == 1 and "550 5.1.1 no such mailbox here" in states[failed[0]][1]
    assert sorted(s for s, _ in states.values()) == ["failed", "sent", "sent"]
    conn = db.connect(config.state)
    bounced = [r[0] for r in conn.execute("SELECT email FROM subscribers WHERE status='bounced'")]
    assert bounced == failed
    assert len(server.transcript.accepted) == 2


def test_552_after_data_fails_with_the_reason_and_keeps_the_subscriber(tmp_path: Path) -> None:
    script = Script(bodies=["552 5.3.4 message too big for this mailbox"])
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 2)
        scripted_send(config)
    states = delivery_states(config, "2026-W48")
    failed = [(e, r) for e, (s, r) in states.items() if s == "failed"]
    assert len(failed) == 1 and "552 5.3.4 message too big" in failed[0][1]
    conn = db.connect(config.state)
    assert {r[0] for r in conn.execute("SELECT status FROM subscribers")} == {"active"}


def test_552_at_the_data_command_fails_the_recipient(tmp_path: Path) -> None:
    script = Script(replies={"DATA": ["552 5.3.4 over quota"]})
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 2)
        scripted_send(config)
    assert statuses(config) == ["failed", "sent"]


def test_drop_in_the_middle_of_data_is_retried_and_delivered_once(tmp_path: Path) -> None:
    # A big message and a small server receive buffer: the client is still writing the body
    # when the server resets the connection.
    with ScriptedServer(Script(bodies=[DROP_MID_DATA]), rcvbuf=4096) as server:
        config = scripted_config(tmp_path, server.port)
        add_subscribers(config, 1)
        record(config, rendered_digest(config, html_extra="<p>" + "z" * 3_000_000 + "</p>"))
        scripted_send(config)
    assert statuses(config) == ["sent"]
    assert server.transcript.connections == 2
    assert len(server.transcript.accepted) == 1  # exactly one complete copy


def test_drop_after_the_final_dot_is_unknown_and_never_resent(tmp_path: Path) -> None:
    with ScriptedServer(Script(bodies=[DROP_AFTER_DOT])) as server:
        config = scripted_setup(tmp_path, server, 3)
        result = scripted_send(config)
        states = delivery_states(config, "2026-W48")
        unknown = [(e, r) for e, (s, r) in states.items() if s == "unknown"]
        assert len(unknown) == 1 and "after the final '.'" in unknown[0][1]
        assert result.unknown == 1
        # The issue is complete: an unknown copy is final. Running again sends nothing.
        again = scripted_send(config)
        assert again.outcome == "already-sent"
        assert server.transcript.commands.count("DATA") == 3
        assert len(server.transcript.accepted) == 3  # the server did get all three
        # Only on explicit request is it sent again — with the same Message-ID.
        assert config.smtp is not None
        transport = SmtpTransport(config.smtp, backoff_base=0.01)
        resent = run_once(config, now=NOW, transport=transport, resend_unknown=True)
        assert resent.sent == 1 and statuses(config) == ["sent"] * 3
    first, *_, last = server.transcript.accepted
    ids = [_message_id(body) for body in server.transcript.accepted]
    assert len(ids) == 4 and len(set(ids)) == 3
    assert _message_id(last) == _message_id(first)  # the unknown one was the first sent


def _message_id(body: bytes) -> str:
    return body.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()


def test_421_in_the_middle_of_a_session_reconnects(tmp_path: Path) -> None:
    script = Script(replies={"MAIL": ["250 ok", "421 4.4.2 closing, too many messages"]})
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 3)
        scripted_send(config)
    assert statuses(config) == ["sent"] * 3
    assert server.transcript.connections == 2
    assert len(server.transcript.accepted) == 3


def test_no_starttls_on_offer_means_the_password_is_never_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-very-secret")
    script = Script(extensions=["AUTH PLAIN LOGIN", "8BITMIME"])  # no STARTTLS
    with ScriptedServer(script) as server:
        config = scripted_setup(
            tmp_path,
            server,
            2,
            security="starttls",
            username="digest",
            password_env="SMTP_PASSWORD",
        )
        with pytest.raises(
            DeliveryError, match="did not offer STARTTLS; refusing to send the password in clear"
        ):
            scripted_send(config)
    raw = bytes(server.transcript.raw)
    import base64

    assert b"hunter2" not in raw
    assert base64.b64encode(b"\0digest\0hunter2-very-secret") not in raw
    assert "AUTH" not in server.transcript.commands and "MAIL" not in server.transcript.commands
    assert statuses(config) == ["pending", "pending"]


def test_security_none_never_sends_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A 535 refusal is tested against aiosmtpd with real STARTTLS in test_send_smtp.py.)
    monkeypatch.setenv("SMTP_PASSWORD", "pw-not-for-the-wire")
    with ScriptedServer(Script(extensions=["AUTH PLAIN"])) as server:
        config = scripted_setup(
            tmp_path, server, 1, username="digest", password_env="SMTP_PASSWORD"
        )
        with pytest.raises(DeliveryError, match="refusing to send the password"):
            scripted_send(config)
    assert b"pw-not-for-the-wire" not in bytes(server.transcript.raw)
    assert "AUTH" not in server.transcript.commands


def test_a_refused_connection_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        config = scripted_config(tmp_path, port, retries=1)
        add_subscribers(config, 1)
        record(config, rendered_digest(config))
        with pytest.raises(DeliveryError, match=r"could not use the mail server 127\.0\.0\.1"):
            scripted_send(config)
    assert statuses(config) == ["pending"]


def test_a_server_that_caps_connections_gets_the_mail_over_the_ones_it_allows(
    tmp_path: Path,
) -> None:
    # The first connection is welcome; every further one is told 421 "too many connections".
    script = Script(greetings=["220 welcome"] + ["421 4.7.0 too many connections"] * 20)
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 12, connections=3, retries=1)
        result = scripted_send(config)
    assert result.sent == 12 and statuses(config) == ["sent"] * 12
    assert len(server.transcript.accepted) == 12


def test_the_rate_limit_spaces_messages_out(tmp_path: Path) -> None:
    # A lower bound only (the limiter can be slower on a busy machine, never faster), so this
    # can't flake: 12 messages at 40/s with a burst of 2 take at least 10/40 s.
    import time

    with ScriptedServer(Script()) as server:
        config = scripted_setup(tmp_path, server, 12, connections=2, rate=40)
        started = time.monotonic()
        result = scripted_send(config)
        elapsed = time.monotonic() - started
    assert result.sent == 12
    assert elapsed >= 10 / 40
