"""kill -9 in the middle of a 2,000-recipient send, then `digest send` again.

The sender and the SMTP sink are separate processes, so killing the sender leaves the sink
holding what it accepted. Afterwards every subscriber holds exactly one message by Message-ID:
copies the dead sender had claimed but whose outcome it never recorded are sent again with
the same deterministic Message-ID (receivers treat equal Message-IDs as one message), so at
most ``smtp.connections`` raw duplicates can exist — never a second, different message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from support.smtp import add_subscribers, delivery_states, write_config, write_reviews

from digest.config import load_config
from digest.period import period_key

SUBSCRIBERS = 2000
CONNECTIONS = 4


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_mid_send_then_resume_gives_everyone_exactly_one_copy(tmp_path: Path) -> None:
    sink_dir = tmp_path / "sink"
    support = Path(__file__).resolve().parents[1] / "support" / "sink_process.py"
    sink = subprocess.Popen([sys.executable, str(support), str(sink_dir)])
    try:
        _wait_for(lambda: (sink_dir / "port").exists(), 30, "the sink to start")
        port = int((sink_dir / "port").read_text())
        # A rate limit only so the kill reliably lands mid-send; the resume runs unlimited.
        smtp = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "connections": CONNECTIONS,
            "rate": 400,
            "retries": 1,
        }
        path = write_config(tmp_path, smtp=smtp)
        config = load_config(path)
        now = datetime.now(UTC)
        write_reviews(tmp_path / "reviews", 3, published=now - timedelta(hours=6))
        emails = add_subscribers(config, SUBSCRIBERS)
        mail = sink_dir / "mail"
        command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--yes"]
        env = {**os.environ, "COLUMNS": "100"}
        sender = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for(lambda: len(list(mail.glob("*.eml"))) >= 300, 60, "300 messages at the sink")
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=30)
        assert sender.returncode == -signal.SIGKILL
        at_kill = len(list(mail.glob("*.eml")))
        assert at_kill < SUBSCRIBERS, "the send finished before the kill; nothing was tested"
        key = period_key(config, now)
        states = delivery_states(config, key)
        assert "pending" in {s for s, _ in states.values()}

        path.write_text(path.read_text().replace("rate: 400", "rate: 0"))
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert "0 deferred, 0 failed, 0 unknown" in done.stdout
        again = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert f"already sent to {SUBSCRIBERS} subscribers" in again.stdout
    finally:
        sink.terminate()
        sink.wait(timeout=30)

    ids: dict[str, set[str]] = defaultdict(set)
    copies: dict[str, int] = defaultdict(int)
    for f in mail.glob("*.eml"):
        msg = BytesHeaderParser(policy=policy.default).parsebytes(f.read_bytes())
        to = str(msg["X-Envelope-To"])
        assert str(msg["To"]) == to
        ids[to].add(str(msg["Message-ID"]))
        copies[to] += 1
    assert sorted(ids) == sorted(emails)  # nobody missed
    assert all(len(v) == 1 for v in ids.values())  # exactly one message each, by Message-ID
    duplicates = sum(c - 1 for c in copies.values())
    assert duplicates <= CONNECTIONS  # only copies in flight at the kill can be repeated
    assert {s for s, _ in delivery_states(config, key).values()} == {"sent"}
