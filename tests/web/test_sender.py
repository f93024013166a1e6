"""The web service against the real sender: the mailed one-click link works, and an
unsubscribe that lands while an issue is going out stops every later copy to that address.

The real pieces end to end: ``run_once`` sends to 200 subscribers over SMTP into an aiosmtpd
sink; the sink holds its answer once 40 messages have arrived, so the send is provably halfway;
one-click POSTs then go to ``digest serve``'s app on uvicorn for two subscribers not yet sent
to — one a few places after the pause (its row most likely already claimed by the sender and
waiting in a worker's queue), one near the end of the list; the sink lets go and the send
finishes. No sleeps decide the outcome — the pause is an event, not a timer.
"""

from __future__ import annotations

import asyncio
import mailbox
import re
import threading
from pathlib import Path
from typing import Any

import httpx
from support.smtp import NOW, Sink, add_subscribers, delivery_states, write_config, write_reviews
from support.web import running, status_of

from digest.config import load_config
from digest.pipeline.run import RunResult, run_once
from digest.state import db, subscribers

SUBSCRIBERS = 200
PAUSE_AFTER = 40


class PauseAfter:
    """An SMTP handler that passes messages to the sink's own, but holds every message from the
    ``count``-th on until ``release`` is set."""

    def __init__(self, inner: Any, count: int):
        self.inner = inner
        self.count = count
        self.reached = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.inner.received) >= self.count:
            self.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        answer: str = await self.inner.handle_DATA(server, session, envelope)
        return answer


def test_an_unsubscribe_during_a_send_stops_later_copies(tmp_path: Path) -> None:
    with Sink() as sink:
        gate = PauseAfter(sink.capture, PAUSE_AFTER)
        sink.controller.handler = gate  # used for every connection the sender opens from now on
        smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0,
                "connections": 4, "timeout": 120}  # fmt: skip
        config = load_config(write_config(tmp_path, smtp=smtp))
        write_reviews(tmp_path / "reviews", 2)
        emails = add_subscribers(config, SUBSCRIBERS)
        soon, late = emails[PAUSE_AFTER + 8], emails[-10]
        conn = db.connect(config.state)
        try:
            leaving = [subscribers.get(conn, soon), subscribers.get(conn, late)]
        finally:
            conn.close()

        results: list[RunResult] = []
        sender = threading.Thread(target=lambda: results.append(run_once(config, now=NOW)))
        sender.start()
        try:
            assert gate.reached.wait(120), "the send never got going"
            so_far = {r for m in sink.received for r in m.rcpt_tos}
            assert soon not in so_far and late not in so_far
            with running(config) as base:
                for person in leaving:
                    assert person is not None
                    response = httpx.post(
                        f"{base}/unsubscribe/{person.token}",
                        data={"List-Unsubscribe": "One-Click"},
                        timeout=60,
                    )
                    assert response.status_code == 200
            assert status_of(config, soon) == status_of(config, late) == "unsubscribed"
        finally:
            gate.release.set()
            sender.join(timeout=300)
        received = sink.received

    (result,) = results
    assert result.outcome == "sent" and result.skipped == 2
    assert result.sent == SUBSCRIBERS - 2
    recipients = [r for m in received for r in m.rcpt_tos]
    assert soon not in recipients and late not in recipients
    assert sorted(recipients) == sorted(e for e in emails if e not in (soon, late))  # once each
    states = delivery_states(config, "2026-W48")
    assert states[soon] == states[late] == ("skipped", "subscriber is unsubscribed")
    assert {s for e, (s, _) in states.items() if e not in (soon, late)} == {"sent"}


def test_the_one_click_link_in_a_sent_message_unsubscribes(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    write_reviews(tmp_path / "reviews", 1)
    emails = add_subscribers(config, 2)
    assert run_once(config, now=NOW).sent == 2
    box = mailbox.Maildir(config.outbox, create=False)
    message = next(m for m in box if m["To"] == emails[1])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.search(r"<(https://[^>]+)>", message["List-Unsubscribe"])
    assert found is not None
    link = found.group(1)
    assert link.startswith(f"{config.newsletter.base_url}/unsubscribe/")
    with running(config) as base:
        # What a mailbox provider does (RFC 8058): POST the body the header names.
        response = httpx.post(
            link.replace(config.newsletter.base_url, base),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=60,
        )
    assert response.status_code == 200
    assert status_of(config, emails[1]) == "unsubscribed"
    assert status_of(config, emails[0]) == "active"
