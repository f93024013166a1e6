"""``digest next`` and ``digest run``: what the next run would send, and one run now."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from support.scheduling import (
    add_subscribers,
    maildir_copies,
    query,
    write_config,
    write_reviews,
)

from digest.cli import cli
from digest.schedule.scheduler import describe_next, plan_next
from digest.schedule.tick import tick
from digest.state.locks import runner_lock

BERLIN = ZoneInfo("Europe/Berlin")


def test_plan_next_says_when_and_what_without_writing_anything(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    titles = write_reviews(
        config,
        [
            datetime(2026, 11, 19, 12, tzinfo=BERLIN),  # went out in Monday's issue
            datetime(2026, 11, 24, 18, tzinfo=BERLIN),  # new since: next week's
        ],
    )
    add_subscribers(config, 2)
    tick(config, now=datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN))
    before = [dict(r) for r in query(config, "SELECT * FROM runs")], maildir_copies(config)

    now = datetime(2026, 11, 25, 19, 30, tzinfo=BERLIN)
    plan = plan_next(config, now=now)

    assert plan is not None
    assert plan.fire == datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    assert plan.period.key == "2026-W49"
    assert [r.title for r in plan.selected.reviews] == [titles[1]]
    assert describe_next(config, plan, now=now) == (
        "Next run: Mon 30 Nov 2026 08:00 CET (in 4 days, 12 hours), issue 2026-W49. "
        "If it ran now it would carry 1 review:"
    )
    after = [dict(r) for r in query(config, "SELECT * FROM runs")], maildir_copies(config)
    assert after == before
    assert [r["id"] for r in query(config, "SELECT id FROM issues")] == ["2026-W48"]


def test_plan_next_on_a_fresh_install_creates_no_state(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    write_reviews(config, [datetime(2026, 11, 24, 18, tzinfo=BERLIN)])
    plan = plan_next(config, now=datetime(2026, 11, 25, 19, 30, tzinfo=BERLIN))
    assert plan is not None and len(plan.selected.reviews) == 1
    assert not config.state.exists()


def test_digest_next_prints_the_time_and_the_reviews(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    (title,) = write_reviews(config, [datetime.now(UTC) - timedelta(hours=2)])
    result = CliRunner().invoke(cli, ["--config", str(config.path), "next"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Next run: Mon ")
    assert "(in " in result.output and "issue 20" in result.output
    assert title in result.output


def test_digest_run_sends_once_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    write_reviews(config, [datetime.now(UTC) - timedelta(hours=2)])
    emails = add_subscribers(config, 3)
    runner = CliRunner()

    first = runner.invoke(cli, ["--config", str(config.path), "run"])
    second = runner.invoke(cli, ["--config", str(config.path), "run"])

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert first.output.startswith("sent: issue 20")
    assert second.output.startswith("already-sent: issue 20")
    assert Counter(to for to, _ in maildir_copies(config)) == dict.fromkeys(emails, 1)
    triggers = [r["trigger"] for r in query(config, "SELECT trigger FROM runs ORDER BY id")]
    assert triggers == ["run", "run"]


def test_digest_run_beside_a_running_digest_exits_with_a_clear_message(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    with runner_lock(config) as lock_file:
        done = subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(config.path), "run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert "error: another digest is running (pid " in done.stderr
    assert str(lock_file) in done.stderr.replace("\n", "")
    assert not query(config, "SELECT * FROM runs")


def test_digest_run_with_the_mail_server_down_says_so_and_a_later_run_finishes(
    tmp_path: Path,
) -> None:
    import socket

    from support.smtp import Sink

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = write_config(tmp_path, smtp_port=closed_port, smtp={"retries": 0})
    write_reviews(config, [datetime.now(UTC) - timedelta(hours=2)])
    emails = add_subscribers(config, 3)

    down = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config.path), "run"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert down.returncode == 1
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(closed_port) in errors[0], down.stderr
    assert "Traceback" not in down.stderr
    assert "outcome=error" in down.stderr  # the structured log line, with the reason
    (run,) = query(config, "SELECT outcome, issue_id FROM runs")
    assert run["outcome"] == "error"
    # The issue was recorded before the first send was tried: nobody has it, nobody is lost.
    assert {r["status"] for r in query(config, "SELECT status FROM deliveries")} == {"pending"}

    with Sink() as sink:
        config = write_config(tmp_path, smtp_port=sink.port)
        back = CliRunner().invoke(cli, ["--config", str(config.path), "run"])
        assert back.exit_code == 0, back.output
        assert Counter(rcpt for r in sink.received for rcpt in r.rcpt_tos) == dict.fromkeys(
            emails, 1
        )


def test_next_counts_real_hours_across_the_autumn_change(tmp_path: Path) -> None:
    config = write_config(tmp_path, cron="0 8 * * mon")
    saturday = datetime(2026, 10, 24, 8, 0, tzinfo=BERLIN)  # CEST; Monday 08:00 is CET
    plan = plan_next(config, now=saturday)
    assert plan is not None
    assert describe_next(config, plan, now=saturday).startswith(
        "Next run: Mon 26 Oct 2026 08:00 CET (in 2 days, 1 hour), issue 2026-W44."
    )
