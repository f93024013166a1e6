"""A slow SMTP server: it accepts the connection but answers later than ``smtp.timeout``.

The scripted server (tests/support/smtp.py) says nothing at the chosen step until the client
has given up and hung up, then answers into the closed connection — slower than any timeout,
with no sleeps in the test. What each silence must end as (README, the ledger's policy table):

- no greeting in time → the connection is retried with back-off like a refused one; if the
  server never answers, nothing is sent, one clear error, every copy stays ``pending``;
- no answer to MAIL / RCPT / DATA (before the final ".") → nothing was delivered: retried on a
  new connection, and after ``smtp.retries`` left ``deferred`` for the next run;
- no answer after the final "." → ``unknown`` (the server may have delivered it): never sent
  again automatically.
"""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest
from support.smtp import (
    NOW,
    SILENT,
    Script,
    ScriptedServer,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
    write_config,
)

from digest.config import Config, load_config
from digest.deliver import SmtpTransport
from digest.errors import DeliveryError
from digest.pipeline.run import RunResult, run_once

ISSUE = "2026-W48"
TIMEOUT = 1.0  # smtp.timeout, seconds per read or write


def _setup(tmp_path: Path, server: ScriptedServer, count: int, retries: int = 2) -> Config:
    settings = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "connections": 1,
        "rate": 0,
        "timeout": TIMEOUT,
        "retries": retries,
    }
    config = load_config(write_config(tmp_path, smtp=settings))
    add_subscribers(config, count)
    record(config, rendered_digest(config))
    return config


def _send(config: Config) -> RunResult:
    assert config.smtp is not None
    return run_once(config, now=NOW, transport=SmtpTransport(config.smtp, backoff_base=0.01))


def _states(config: Config) -> dict[str, tuple[str, str]]:
    return delivery_states(config, ISSUE)


def _recipients(server: ScriptedServer) -> Counter[str]:
    """How many complete messages the server holds for each recipient."""
    return Counter(str(message_from_bytes(body)["To"]) for body in server.transcript.accepted)


def test_a_greeting_slower_than_the_timeout_is_retried_on_a_new_connection(
    tmp_path: Path,
) -> None:
    with ScriptedServer(Script(greetings=[SILENT])) as server:
        config = _setup(tmp_path, server, 3)
        result = _send(config)
    assert result.outcome == "sent"
    assert {s for s, _ in _states(config).values()} == {"sent"}
    assert server.transcript.connections == 2 and server.transcript.late == 1
    assert set(_recipients(server).values()) == {1} and len(_recipients(server)) == 3


def test_a_server_that_never_greets_in_time_sends_nothing_and_keeps_every_copy_pending(
    tmp_path: Path,
) -> None:
    with ScriptedServer(Script(greetings=[SILENT] * 5)) as server:
        config = _setup(tmp_path, server, 3, retries=1)
        with pytest.raises(DeliveryError) as caught:
            _send(config)
    message = str(caught.value)
    assert f"could not use the mail server 127.0.0.1:{server.port}" in message
    assert "timed out" in message
    assert {s for s, _ in _states(config).values()} == {"pending"}
    assert server.transcript.accepted == [] and "MAIL" not in server.transcript.commands


@pytest.mark.parametrize("verb", ["MAIL", "RCPT", "DATA"])
def test_no_answer_before_the_final_dot_is_retried_and_delivered_once(
    tmp_path: Path, verb: str
) -> None:
    with ScriptedServer(Script(replies={verb: [SILENT]})) as server:
        config = _setup(tmp_path, server, 2)
        result = _send(config)
    assert result.outcome == "sent" and result.sent == 2
    assert {s for s, _ in _states(config).values()} == {"sent"}
    assert server.transcript.connections == 2 and server.transcript.late == 1
    assert _recipients(server) == dict.fromkeys(_states(config), 1)


def test_silence_before_the_final_dot_beyond_the_retries_is_deferred_then_sent(
    tmp_path: Path,
) -> None:
    with ScriptedServer(Script(replies={"RCPT": [SILENT, SILENT]})) as server:
        config = _setup(tmp_path, server, 1, retries=1)
        first = _send(config)
        ((status, reason),) = _states(config).values()
        assert (first.outcome, status) == ("incomplete", "deferred")
        assert "before the final '.'" in reason and "timed out" in reason
        assert server.transcript.accepted == []
        # The next run tries the deferred copy again; the server is quick now.
        again = _send(config)
    assert (again.outcome, again.sent) == ("sent", 1)
    assert [s for s, _ in _states(config).values()] == ["sent"]
    assert len(server.transcript.accepted) == 1


def test_silence_after_the_final_dot_is_unknown_and_never_sent_again(tmp_path: Path) -> None:
    with ScriptedServer(Script(bodies=[SILENT])) as server:
        config = _setup(tmp_path, server, 3)
        result = _send(config)
        states = _states(config)
        unknown = [(e, r) for e, (s, r) in states.items() if s == "unknown"]
        assert len(unknown) == 1 and "after the final '.'" in unknown[0][1]
        assert sorted(s for s, _ in states.values()) == ["sent", "sent", "unknown"]
        # The issue is complete: the unknown copy is final, and a second run sends nothing.
        assert (result.outcome, result.unknown) == ("sent", 1)
        assert _send(config).outcome == "already-sent"
    # The server did get every message, the slow one included — each exactly once.
    assert _recipients(server) == dict.fromkeys(states, 1)
    assert server.transcript.commands.count("DATA") == 3 and server.transcript.late == 1
