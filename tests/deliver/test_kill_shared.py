"""Three senders at once on one PostgreSQL state, one of them killed with ``kill -9`` mid-send.

Three ``digest send --yes`` processes start together against one PostgreSQL database and one
SMTP sink (its own process, so it outlives the senders). They share the issue: one prepares and
records it while the others wait on the preparing lock, then all three claim rows with
``FOR UPDATE SKIP LOCKED``. Once the sink holds ``KILL_AT`` messages one sender is killed.
The two left finish the issue on their own — the dead sender's claimed rows are handed back
once its server session is gone — with nobody restarting anything.

Afterwards every subscriber holds exactly one message by Message-ID and nobody is missing;
a recipient got two copies only if its row was one the killed sender had claimed and not yet
recorded (at most ``deliver.loop.crash_window(smtp.connections)`` of them: the documented
crash window), and each such pair carries one Message-ID.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.kill import Held, count_mail, settled, sink_process, wait_for
from support.smtp import add_subscribers, delivery_states, write_config, write_reviews

from digest.config import load_config
from digest.deliver.loop import crash_window
from digest.period import period_key
from digest.state import db

SUBSCRIBERS = 2000
CONNECTIONS = 4
SENDERS = 3
#: Messages the sink must hold before one sender is killed.
KILL_AT = 200

_DEAD_ROWS = """SELECT email FROM deliveries d WHERE issue_id = ? AND status = 'sending'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.pid || ':' || extract(epoch FROM a.backend_start) = d.claimed_by)"""


def _dead_rows(config: object, key: str) -> set[str]:
    conn = db.connect(config.state)  # type: ignore[attr-defined]
    try:
        return {r[0] for r in conn.execute(_DEAD_ROWS, (key,)).fetchall()}
    finally:
        conn.close()


@pytest.mark.slow
def test_three_senders_share_an_issue_and_a_kill_9_duplicates_only_its_copies_in_flight(
    tmp_path: Path, postgres_url: str
) -> None:
    mail = tmp_path / "sink" / "mail"
    held = Held(mail)
    with sink_process(tmp_path / "sink") as port:
        smtp = {"host": "127.0.0.1", "port": port, "security": "none",
                "connections": CONNECTIONS, "rate": 0, "retries": 1}  # fmt: skip
        path = write_config(tmp_path, smtp=smtp, state=postgres_url)
        config = load_config(path)
        now = datetime.now(UTC)
        write_reviews(tmp_path / "reviews", 3, published=now - timedelta(hours=6))
        emails = add_subscribers(config, SUBSCRIBERS)
        key = period_key(config, now)
        command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--yes"]
        senders = [
            subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(SENDERS)
        ]  # fmt: skip

        wait_for(lambda: count_mail(mail) >= KILL_AT, 120, f"{KILL_AT} messages")
        victim = senders[0]
        victim.send_signal(signal.SIGKILL)
        # The others still have most of the issue to send: they are the ones to finish it.
        assert all(s.poll() is None for s in senders[1:]), "the others finished before the kill"
        victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        # Its server session ends a moment after the process: then its claimed rows show.
        deadline = time.monotonic() + 10
        exposed: set[str] = set()
        while time.monotonic() < deadline and not exposed:
            exposed = _dead_rows(config, key)
            time.sleep(0.05)
        window = crash_window(CONNECTIONS)
        assert len(exposed) <= window, f"{len(exposed)} rows claimed at once by one sender"

        outputs = [s.communicate(timeout=300) for s in senders[1:]]
        for s, (out, err) in zip(senders[1:], outputs, strict=True):
            assert s.returncode == 0, err
            assert "0 deferred, 0 failed, 0 unknown" in out, out
        states = Counter(s for s, _ in delivery_states(config, key).values())
        assert settled(mail) >= SUBSCRIBERS, (states, [out for out, _ in outputs])
        # The survivors both sent: the issue was shared, not handed to one of them.
        sent = [int(re.findall(r"issue \S+: (\d+) sent", out)[-1]) for out, _ in outputs]
        assert all(n > 0 for n in sent), outputs

    copies, ids = held.update().copies, held.ids
    assert sorted(ids) == sorted(emails)  # nobody missed
    assert all(len(v) == 1 for v in ids.values())  # one message each, by Message-ID
    duplicated = {e for e, n in copies.items() if n > 1}
    print(f"\nkill -9 of 1 of {SENDERS} senders: {len(exposed)} rows in flight, "
          f"{sum(n - 1 for n in copies.values())} duplicate copies")  # fmt: skip
    assert duplicated <= exposed  # only the dead sender's copies in flight came twice
    assert max(copies.values()) <= 2
    assert {s for s, _ in delivery_states(config, key).values()} == {"sent"}
