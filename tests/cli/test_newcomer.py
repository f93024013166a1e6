"""Issue 12, the newcomer's paper cuts: every message true, every mistake one line that says
what to do — driven as a cron job would drive it (a real process, no terminal, 80 columns)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.cli import NO_TERMINAL, assert_one_line_error, digest
from support.config import add_review, write_config_file


def missing_source(tmp_path: Path) -> Path:
    """The only folder misspelt: what a new user's first config often looks like."""
    return write_config_file(
        tmp_path, sources=[{"type": "folder", "path": "reveiws", "name": "site reviews"}]
    )


def test_reversed_dates_are_one_line_for_every_command_that_takes_them(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    add_review(tmp_path, "piano-men")
    wanted = (
        "error: --since 2026-12-01 00:00 is not before --until 2026-11-01 00:00: a period must "
        "start before it ends; swap the two dates"
    )
    for command in (["sources"], ["build"], ["send", "--dry-run"], ["send", "--to", "e@x.org"]):
        result = digest(config, *command, "--since", "2026-12-01", "--until", "2026-11-01")
        assert_one_line_error(result)
        assert result.stderr.strip() == wanted, command


def test_a_future_since_alone_says_what_to_change(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    result = digest(config, "build", "--since", "2999-01-01")
    assert_one_line_error(result, "--since 2999-01-01 00:00 is not before the end of the period")
    assert "give an earlier --since, or a later --until" in result.stderr


def test_a_missing_only_source_is_never_a_quiet_week(tmp_path: Path) -> None:
    config = missing_source(tmp_path)
    folder = tmp_path / "reveiws"
    why = (
        f"the only source failed (site reviews: folder {folder} does not exist; create it or fix "
        f"the path of this source in {config}); nothing was recorded or sent; fix it and run again"
    )
    for command in (["build"], ["sources"], ["sources", "--json"], ["send", "--dry-run"]):
        result = digest(config, *command, env=NO_TERMINAL)
        assert_one_line_error(result)
        assert f"error: {why}" in result.stderr.splitlines(), command
        assert "no new reviews" not in result.stdout + result.stderr
    test_copy = digest(config, "send", "--to", "editor@example.org")
    assert_one_line_error(test_copy)
    assert test_copy.stderr.strip() == f"error: no test copy sent: {why}"
    assert not (tmp_path / "outbox" / "new").exists() or not any(
        (tmp_path / "outbox" / "new").iterdir()
    )


def test_one_broken_source_beside_a_quiet_one_names_the_broken_one(tmp_path: Path) -> None:
    config = write_config_file(
        tmp_path,
        sources=[
            {"type": "folder", "path": "reviews", "name": "quiet"},
            {"type": "folder", "path": "gone", "name": "broken"},
        ],
    )
    result = digest(config, "build")
    assert_one_line_error(
        result, "source broken failed (broken: folder ", "and no other source had new reviews for"
    )


def test_history_ends_a_long_subject_with_an_ellipsis_in_80_columns(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    add_review(tmp_path, "piano-men")
    assert digest(config, "subscribers", "add", "ada@example.org").returncode == 0
    assert digest(config, "send", "--yes").returncode == 0
    result = digest(config, "history", env=NO_TERMINAL)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if " done " in line)
    assert len(row) <= 80 and row.rstrip().endswith("…") and "Piano" in row


def test_check_shows_the_whole_path_with_the_typo(tmp_path: Path) -> None:
    deep = "a-rather-long-folder-name/for-the-sites-reviews/reveiws"
    config = write_config_file(tmp_path, sources=[{"type": "folder", "path": deep, "name": "s"}])
    result = digest(config, "check", env=NO_TERMINAL)
    assert_one_line_error(result, "every source failed; see above")
    assert f"s: folder {tmp_path / deep} does not exist; create it" in result.stdout


def test_messages_are_not_hard_wrapped_without_a_terminal(tmp_path: Path) -> None:
    config = missing_source(tmp_path)
    result = digest(config, "build", env=NO_TERMINAL)
    problem, error = result.stderr.splitlines()
    assert problem.startswith("problem: site reviews: folder ") and problem.endswith(
        f"this source in {config}"
    )
    assert len(error) > 80 and error.endswith("fix it and run again")


def test_send_without_a_terminal_says_to_pass_yes_and_leaves_no_unfinished_run(
    tmp_path: Path,
) -> None:
    config = write_config_file(tmp_path)
    add_review(tmp_path, "piano-men")
    assert digest(config, "subscribers", "add", "ada@example.org").returncode == 0
    result = digest(config, "send")
    assert_one_line_error(result)
    assert result.stderr.strip().endswith(
        "error: `digest send` asks before it acts and there is no terminal to ask on "
        "(cron, a pipe); pass --yes: digest send --yes"
    )
    assert "Aborted." not in result.stderr
    conn = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    try:
        runs = conn.execute("SELECT outcome, finished_at FROM runs").fetchall()
        issues = conn.execute("SELECT count(*) FROM issues").fetchone()[0]
    finally:
        conn.close()
    assert [(outcome, done is not None) for outcome, done in runs] == [("error", True)]
    assert issues == 0


def test_config_after_the_command_is_the_same_option(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    add_review(tmp_path, "piano-men")
    result = digest(None, "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"config ok: {config}")
    nested = digest(None, "subscribers", "list", "--config", str(config))
    assert nested.returncode == 0 and "0 subscribers" in nested.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["check"], ["sources"], ["sources", "--json"], ["build"], ["next"], ["history"],
        ["send"], ["send", "--dry-run"], ["send", "--to", "e@example.org"], ["send", "--yes"],
        ["run"], ["subscribers", "list"], ["reset", "--issue", "2026-W01"],
        ["build", "--issue", "2026-W01"],
    ],
    ids=" ".join,
)  # fmt: skip
def test_no_traceback_anywhere(tmp_path: Path, args: list[str]) -> None:
    """Every command, with a missing source, no terminal and (where it takes one) a reversed
    period: exit 0 or 1, and never a traceback."""
    config = missing_source(tmp_path)
    runs = [digest(config, *args, env=NO_TERMINAL)]
    if args[0] in ("sources", "build", "send") and "--issue" not in args:
        runs.append(digest(config, *args, "--since", "2026-12-01", "--until", "2026-11-01"))
    for result in runs:
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        assert result.returncode in (0, 1), result.stderr


def test_the_preview_says_the_source_is_broken(tmp_path: Path) -> None:
    import httpx
    from support.browser import serve_app

    from digest.web.preview import create_preview_app

    config = missing_source(tmp_path)
    with serve_app(create_preview_app(config)) as base:
        page = httpx.get(base + "/", timeout=30).text
    assert "the only source failed (site reviews: folder " in page
    assert "no new reviews" not in page
