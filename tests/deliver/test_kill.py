"""kill -9, again and again, in the middle of a 2,000-recipient send; then `digest send` again.

The sender and the SMTP sink are separate processes, so killing the sender leaves the sink
holding what it accepted. The sender runs flat out (8 connections, no rate limit) and is
killed twelve times, each time after the sink has seen another batch of messages; a final
run finishes the issue. The README's bound is checked at every kill: a copy can arrive twice
only if its row was still ``sending`` when the sender died, and no more than
``deliver.loop.crash_window(smtp.connections)`` rows (64 here) are ever ``sending`` at once
(rows are claimed in batches and outcomes committed in batches, and the loop never holds more
than that claimed and uncommitted). Afterwards every subscriber holds exactly one message by
Message-ID and nobody is missing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.kill import Held, count_mail, settled, sink_process, wait_for
from support.smtp import add_subscribers, delivery_states, write_config, write_reviews

from digest.config import load_config
from digest.deliver.loop import crash_window
from digest.period import period_key

SUBSCRIBERS = 2000
CONNECTIONS = 8
KILLS = 12
#: Messages the sink must see from each run before it is killed.
STEP = 100
#: The documented bound: rows claimed and not yet committed, at most, at any moment.
WINDOW = crash_window(CONNECTIONS)


def _kill_after_more(command: list[str], cwd: Path, mail: Path, step: int) -> None:
    """Start a sender and SIGKILL it once the sink has ``step`` more messages."""
    before = count_mail(mail)
    sender = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(lambda: count_mail(mail) >= before + step, 60, f"{step} more messages")
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    assert sender.returncode == -signal.SIGKILL
    assert settled(mail) < SUBSCRIBERS, "the send finished before the kill"


@pytest.mark.slow
def test_repeated_kill_9_duplicates_at_most_the_crash_window_and_loses_none(
    tmp_path: Path,
) -> None:
    mail = tmp_path / "sink" / "mail"
    held = Held(mail)
    exposed: list[int] = []  # per kill: copies at the sink whose row was still `sending`
    with sink_process(tmp_path / "sink") as port:
        smtp = {"host": "127.0.0.1", "port": port, "security": "none",
                "connections": CONNECTIONS, "rate": 0, "retries": 1}  # fmt: skip
        path = write_config(tmp_path, smtp=smtp)
        config = load_config(path)
        now = datetime.now(UTC)
        write_reviews(tmp_path / "reviews", 3, published=now - timedelta(hours=6))
        emails = add_subscribers(config, SUBSCRIBERS)
        key = period_key(config, now)
        command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--yes"]

        for _ in range(KILLS):
            _kill_after_more(command, tmp_path, mail, STEP)
            states = delivery_states(config, key)
            copies = held.update().copies
            sending = [e for e, (s, _) in states.items() if s == "sending"]
            assert len(sending) <= WINDOW, f"{len(sending)} rows claimed at once"
            exposed.append(sum(1 for e in sending if copies[e]))
            assert exposed[-1] <= WINDOW

        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "0 deferred, 0 failed, 0 unknown" in done.stdout
        again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert f"already sent to {SUBSCRIBERS} subscribers" in again.stdout

    copies, ids = held.update().copies, held.ids
    assert sorted(ids) == sorted(emails)  # nobody missed
    assert all(len(v) == 1 for v in ids.values())  # exactly one message each, by Message-ID
    duplicates = sum(c - 1 for c in copies.values())
    print(
        f"\n{KILLS} kills: exposed per kill {exposed}; {duplicates} duplicate copies, "
        f"at most {max(copies.values())} per recipient"
    )
    # Each duplicate is a copy that was at the sink while its row was `sending` at a kill.
    assert duplicates <= sum(exposed) <= KILLS * WINDOW
    assert {s for s, _ in delivery_states(config, key).values()} == {"sent"}
