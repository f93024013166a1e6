"""Two ``digest schedule`` processes on one PostgreSQL state: one leads, one stands by; the
leader is killed with ``kill -9`` mid-send and the standby takes over and finishes the issue.

The leader holds an advisory lock on its own server session; the standby asks for it every
``STANDBY_POLL`` seconds. A ``kill -9`` closes the leader's connection at once, the server ends
its session (and the lock), and the standby leads; its start-up tick resumes the issue from the
ledger. Every subscriber ends with one message by Message-ID, a copy repeated only if the
leader had sent it and not yet committed its outcome (``deliver.loop.crash_window``). Nothing
asserts on how long the takeover took; the test prints it.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from schedule.test_process import (
    copies_per_reader,
    daily_a_minute_ago,
    digest_process,
    message_ids_per_reader,
    wait_for,
)
from support.scheduling import add_subscribers, query, write_config, write_reviews
from support.smtp import Sink

from digest.deliver.loop import crash_window

pytestmark = pytest.mark.slow


def test_a_standby_scheduler_takes_over_from_a_killed_leader_and_the_issue_goes_once(
    tmp_path: Path, postgres_url: str
) -> None:
    with Sink() as sink:
        # One connection, five messages a second: the kill lands mid-issue.
        # A daily cron that fired a minute ago: the start-up tick runs it at once.
        config = write_config(tmp_path, **daily_a_minute_ago(), smtp_port=sink.port,
                              smtp={"connections": 1, "rate": 5}, state=postgres_url)  # fmt: skip
        write_reviews(config, [datetime.now(UTC) - timedelta(days=1)])
        emails = add_subscribers(config, 20)
        leader_log, standby_log = tmp_path / "leader.log", tmp_path / "standby.log"
        with digest_process(config, "schedule", log=leader_log) as leader:
            wait_for(lambda: "leading:" in leader_log.read_text(), "the first to lead")
            with digest_process(config, "schedule", log=standby_log) as standby:
                wait_for(lambda: "standby:" in standby_log.read_text(), "the second to wait")
                wait_for(lambda: len(sink.received) >= 5, "the leader to be sending")
                os.kill(leader.pid, signal.SIGKILL)
                killed = time.monotonic()
                assert leader.wait(timeout=30) == -signal.SIGKILL
                assert len(sink.received) < len(emails), "the issue finished before the kill"

                wait_for(lambda: "leading:" in standby_log.read_text(), "the standby to lead")
                took = time.monotonic() - killed
                wait_for(lambda: set(copies_per_reader(sink)) == set(emails), "every copy")
                wait_for(
                    lambda: (
                        [r["status"] for r in query(config, "SELECT status FROM issues")]
                        == ["done"]
                    ),
                    "the issue to be recorded done",
                )
                standby.send_signal(signal.SIGTERM)
                assert standby.wait(timeout=30) == 0, standby_log.read_text()
        print(f"\nthe standby led {took:.1f}s after the leader's kill -9")
        assert "Traceback" not in standby_log.read_text()
        ids = message_ids_per_reader(sink)
        assert set(ids) == set(emails)
        assert all(len(v) == 1 for v in ids.values())  # one message each, by Message-ID
        repeats = [r for r, n in copies_per_reader(sink).items() if n > 1]
        # At most the leader's claimed, sent and not yet committed copies: the crash window.
        assert len(repeats) <= crash_window(1)
    issues = query(config, "SELECT id FROM issues")
    assert len(issues) == 1  # one period, one issue
