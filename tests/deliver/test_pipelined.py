"""Copy after copy on one SMTP connection: the next copy's MAIL, RCPT and DATA go out with this
copy's final "." (RFC 2920 §3.1), each reply is still read for the copy it belongs to, and a
transaction opened early that is not used is dropped without a message leaving.

Also the delivery loop's promises that ride on it: the subscriber check happens at most one
copy ahead, and an outcome is committed within ``COMMIT_AFTER`` even while the server holds
back its next answer.
"""

from __future__ import annotations

import threading
import time
from email import message_from_bytes
from pathlib import Path

import pytest
from support.scripted import scripted_send, scripted_setup, statuses
from support.smtp import Script, ScriptedServer, delivery_states

from digest.pipeline.run import RunResult
from digest.state import db, subscribers


def _to(body: bytes) -> str:
    return str(message_from_bytes(body)["To"])


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-by-one"])
def test_the_next_copys_transaction_goes_out_with_the_final_dot(
    tmp_path: Path, pipelining: bool
) -> None:
    extensions = ["PIPELINING", "8BITMIME"] if pipelining else ["8BITMIME"]
    with ScriptedServer(Script(extensions=extensions)) as server:
        config = scripted_setup(tmp_path, server, 5)
        result = scripted_send(config)
    assert result.sent == 5 and statuses(config) == ["sent"] * 5
    transcript = server.transcript
    # Every copy but the first had its MAIL FROM waiting behind the previous final ".":
    # one round trip a copy. Without PIPELINING the client waits for every answer.
    assert transcript.early == (4 if pipelining else 0)
    assert transcript.connections == 1
    assert transcript.commands.count("MAIL") == 5
    everyone = sorted(delivery_states(config, "2026-W48"))
    assert sorted(_to(b) for b in transcript.accepted) == everyone


def test_a_4xx_after_the_dot_drops_the_early_transaction_and_tries_the_copy_again(
    tmp_path: Path,
) -> None:
    script = Script(bodies=["451 4.3.0 queue full, try again"])
    with ScriptedServer(script) as server:
        config = scripted_setup(tmp_path, server, 3)
        scripted_send(config)
    assert statuses(config) == ["sent"] * 3
    accepted = server.transcript.accepted
    # The first copy was refused for now, so the second one's transaction, opened with its
    # final ".", was dropped with the connection; the first went again on a new one.
    assert server.transcript.connections == 2
    # DATA: the first copy, the second opened early and dropped, then all three.
    assert server.transcript.commands.count("DATA") == 5
    assert len(accepted) == 3 and len({_to(b) for b in accepted}) == 3
    assert not any(b"MAIL FROM:" in body or b"\nquit\r\n" in body.lower() for body in accepted)


def test_a_stop_with_a_transaction_opened_early_sends_nothing_for_it(tmp_path: Path) -> None:
    stop = threading.Event()

    def stop_after_the_first(n: int) -> None:
        if n == 1:  # the scheduler shuts down while the first copy is being answered
            stop.set()

    with ScriptedServer(Script(on_accept=stop_after_the_first)) as server:
        config = scripted_setup(tmp_path, server, 4)
        result = scripted_send(config, stop=stop)
        assert result.outcome == "stopped" and result.sent == 1
        assert statuses(config) == ["pending"] * 3 + ["sent"]
        # The second copy's transaction was open (DATA answered 354) when the send stopped:
        # the connection was dropped, not QUIT — in DATA a QUIT would be read as the message.
        assert server.transcript.commands.count("DATA") == 2
        assert b"\nquit\r\n" not in server.transcript.raw.lower()
        assert len(server.transcript.accepted) == 1
        stop.clear()
        again = scripted_send(config)
    assert again.sent == 3 and statuses(config) == ["sent"] * 4
    tos = [_to(b) for b in server.transcript.accepted]
    assert len(tos) == 4 and len(set(tos)) == 4  # everyone once


def test_an_unsubscribe_mid_send_reaches_every_copy_after_the_next(tmp_path: Path) -> None:
    """The subscriber check is made at most one copy ahead: the copy being readied while the
    one before it is on its way."""
    holder: dict[str, object] = {}

    def everyone_leaves(n: int) -> None:
        if n == 1:  # every reader clicks the one-click link while the first copy is answered
            conn = db.connect(holder["state"])  # type: ignore[arg-type]
            for row in subscribers.active(conn):
                subscribers.unsubscribe_by_token(conn, row.token)
            conn.close()

    with ScriptedServer(Script(on_accept=everyone_leaves)) as server:
        config = scripted_setup(tmp_path, server, 5)
        holder["state"] = config.state
        result = scripted_send(config)
    assert result.sent == 2 and result.skipped == 3
    assert len(server.transcript.accepted) == 2


def test_an_outcome_is_committed_while_the_server_holds_back_the_next_answer(
    tmp_path: Path,
) -> None:
    """Outcomes are committed in batches, but none waits more than ``COMMIT_AFTER`` (0.5 s):
    with the third answer held back, the first two copies read ``sent`` in the ledger."""
    release = threading.Event()

    def hold_the_third(n: int) -> None:
        if n == 3:
            release.wait(30)

    with ScriptedServer(Script(on_accept=hold_the_third)) as server:
        config = scripted_setup(tmp_path, server, 6)
        results: list[RunResult] = []
        sender = threading.Thread(target=lambda: results.append(scripted_send(config)))
        sender.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and statuses(config).count("sent") < 2:
                time.sleep(0.05)
            held = statuses(config)
        finally:
            release.set()
            sender.join(30)
    assert held.count("sent") == 2 and held.count("sending") == 4
    assert results and results[0].sent == 6
