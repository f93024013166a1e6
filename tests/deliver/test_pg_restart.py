"""The PostgreSQL server restarting in the middle of a send: the sender stops at its next ledger
write with one line naming the server, no copy is lost track of, and the next send finishes the
issue — the copies in flight at the restart go again with the same Message-ID (the Maildir
outbox, whose file names come from Message-IDs, holds exactly one per subscriber)."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from support.hooked import HookedMaildir
from support.postgres import Postgres
from support.smtp import (
    NOW,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
    write_config,
)

from digest.config import load_config
from digest.errors import StateError
from digest.pipeline.run import run_once


def test_the_server_restarting_mid_send_stops_the_send_and_loses_nothing(
    tmp_path: Path, postgres_url: str, _postgres_server: Postgres
) -> None:
    config = load_config(write_config(tmp_path, state=postgres_url))
    emails = add_subscribers(config, 30)
    record(config, rendered_digest(config))
    key = rendered_digest(config).period.key

    def after(n: int) -> None:
        if n == 10:
            _postgres_server.restart()

    with pytest.raises(StateError) as caught:
        run_once(config, now=NOW, transport=HookedMaildir(config.outbox, after))
    assert str(caught.value).startswith(postgres_url) and "\n" not in str(caught.value)
    states = delivery_states(config, key)
    assert sum(1 for s, _ in states.values() if s == "sent") < len(emails)

    result = run_once(config, now=NOW)
    assert result.outcome == "sent"
    box = mailbox.Maildir(config.outbox, create=False)
    assert sorted(str(m["To"]) for m in box) == sorted(emails)  # one each, none missing
    assert {s for s, _ in delivery_states(config, key).values()} == {"sent"}
