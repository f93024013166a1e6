"""A server that refuses the *sender* refuses every copy alike: nothing is failed for good.

A 5xx at MAIL FROM (or "530 authentication required", or a refusal naming our own envelope
sender — Postfix answers its sender restrictions at RCPT) is about the session, not a
subscriber: `digest send` stops with one line naming the reply and the fix, exits 1, and every
copy stays pending; once the server is fixed the next run sends everyone exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.smtp import (
    Script,
    ScriptedServer,
    Sink,
    add_subscribers,
    delivery_states,
    write_config,
    write_reviews,
)

from digest.config import load_config
from digest.period import period_key

SENDER = "news@reel.example.org"


def _send(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--yes"]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        command, cwd=path.parent, env=env, capture_output=True, text=True, timeout=120
    )


def _smtp(port: int) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": port, "security": "none", "connections": 2,
            "rate": 0, "retries": 1, "timeout": 5}  # fmt: skip


@pytest.mark.parametrize(
    ("verb", "reply"),
    [
        ("MAIL", "530 5.7.0 Authentication required"),
        ("MAIL", "550 5.7.1 Sender address rejected"),
        ("RCPT", f"553 5.7.1 <{SENDER}>: Sender address rejected: not owned by user digest"),
    ],
)
def test_a_refused_sender_stops_the_send_and_the_fixed_server_gets_everyone_once(
    tmp_path: Path, verb: str, reply: str
) -> None:
    now = datetime.now(UTC)
    write_reviews(tmp_path / "reviews", 2, published=now - timedelta(hours=6))
    with ScriptedServer(Script(replies={verb: [reply] * 100})) as refusing:
        path = write_config(tmp_path, smtp=_smtp(refusing.port))
        config = load_config(path)
        emails = add_subscribers(config, 5)
        out = _send(path)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("error: ") and reply.split(" ", 1)[1] in lines[0]
    assert "smtp.username" in lines[0] and "pending" in lines[0]  # the fix, and what is kept
    if not reply.startswith("530"):
        assert "newsletter.from" in lines[0]
    assert refusing.transcript.accepted == []
    key = period_key(config, now)
    assert {s for s, _ in delivery_states(config, key).values()} == {"pending"}

    with Sink() as fixed:
        path.write_text(path.read_text().replace(f"port: {refusing.port}", f"port: {fixed.port}"))
        again = _send(path)
        assert again.returncode == 0, again.stderr
        got = Counter(r.rcpt_tos[0] for r in fixed.received)
    assert got == Counter(emails)  # everyone, exactly once
    assert {s for s, _ in delivery_states(config, key).values()} == {"sent"}
    assert "already sent to 5 subscribers" in _send(path).stdout
