"""Issue 12, continued: what a user expects next — the preview's start-up, ``next``'s window,
CSV files from Excel, re-rendering and forgetting a sent issue, misspelt labels, counts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from support.cli import NO_TERMINAL, assert_one_line_error, digest
from support.config import add_review, write_config_file


def sent_week(tmp_path: Path, **sections: object) -> tuple[Path, str]:
    """A config whose current week's issue went out with one review: ``(config, key)``."""
    config = write_config_file(tmp_path, **sections)
    add_review(tmp_path, "piano-men")
    assert digest(config, "subscribers", "add", "ada@example.org").returncode == 0
    sent = digest(config, "send", "--yes")
    assert sent.returncode == 0, sent.stderr
    key = re.search(r"issue (\d{4}-W\d\d):", sent.stdout)
    assert key is not None, sent.stdout
    return config, key.group(1)


def test_preview_on_a_port_in_use_is_one_line_before_any_banner(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = digest(config, "preview", "--port", str(port))
    assert_one_line_error(result)
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is in use; pass another --port "
        "(digest preview --port 8027)"
    )
    assert "previewing" not in result.stdout and "Errno" not in result.stderr


def test_preview_open_says_when_there_is_no_browser(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    empty = tmp_path / "no-programs"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "BROWSER")}
    env |= {"PATH": str(empty), "WAYLAND_DISPLAY": ""}
    with subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "preview", "--port", "0",
         "--open"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    ) as proc:  # fmt: skip
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert re.fullmatch(
        r"--open: no browser found on this machine; open http://127\.0\.0\.1:\d+/ yourself "
        r"\(or set \$BROWSER\)\n",
        line,
    ), line


def test_next_shows_the_window_its_reasons_use(tmp_path: Path) -> None:
    config, _ = sent_week(tmp_path)
    add_review(tmp_path, "2026-01-05-old-news")  # dated by its name: outside every window
    result = digest(config, "next", env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    header = re.search(r"Reviews for (\d{4}-\d\d-\d\d \d\d:\d\d) – ", result.stdout)
    reason = re.search(r"before (\d{4}-\d\d-\d\d \d\d:\d\d)\)", result.stdout)
    assert header is not None and reason is not None, result.stdout
    assert header.group(1) == reason.group(1)
    assert "reaching back from" in result.stdout and "review(s)" not in result.stdout


def test_csv_from_excel_windows_1252_and_semicolons(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    csv = tmp_path / "list.csv"
    csv.write_bytes("email;name\nrene@example.org;René\n".encode("cp1252"))
    first = digest(config, "subscribers", "import", str(csv))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "imported 1 new subscriber (read as Windows-1252, not UTF-8)"
    again = digest(config, "subscribers", "import", str(csv))
    assert again.stdout.strip() == (
        "imported 0 new subscribers, 1 already on the list (left as they were) "
        "(read as Windows-1252, not UTF-8)"
    )
    assert "René" in digest(config, "subscribers", "list").stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("address,name\nx@example.org,X\n", encoding="utf-8")
    assert_one_line_error(
        digest(config, "subscribers", "import", str(bad)),
        "the first row must be a header with an 'email' column (found: 'address', 'name')",
    )


def test_build_after_the_week_went_out_says_so_even_with_quiet_week(tmp_path: Path) -> None:
    config, key = sent_week(tmp_path, newsletter={"quiet_week": True})
    result = digest(config, "build", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"issue {key} already sent with 1 review; `digest build --issue {key}` re-renders it "
        "with the current templates"
    )
    assert not (tmp_path / "out").exists()


def test_build_issue_re_renders_a_sent_issue_with_the_current_templates(tmp_path: Path) -> None:
    templates = tmp_path / "my-templates"
    templates.mkdir()  # empty when the issue is sent: the bundled templates
    config, key = sent_week(tmp_path, templates=str(templates))
    text = (Path(__file__).parents[2] / "templates" / "digest.txt.j2").read_text("utf-8")
    (templates / "digest.txt.j2").write_text("EDITED TEMPLATE\n" + text, encoding="utf-8")
    out = tmp_path / "again"
    result = digest(config, "build", "--issue", key, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"re-rendering issue {key} with the current templates: 1 of its 1 review collected "
        "again from the sources (the ledger keeps their ids, not their text)"
    )
    assert "1 review · subject:" in result.stdout
    body = (out / "digest.txt").read_text("utf-8")
    assert body.startswith("EDITED TEMPLATE") and "Piano Men" in body
    assert_one_line_error(
        digest(config, "build", "--issue", "2020-W01"),
        f"there is no issue 2020-W01 to re-render (issues: {key})",
    )


def test_reset_issue_asks_then_forgets_only_that_issue(tmp_path: Path) -> None:
    config, key = sent_week(tmp_path)
    asked = digest(config, "reset", "--issue", key)
    assert_one_line_error(
        asked, f"pass --yes: digest reset --issue {key} --yes", "no terminal to ask on"
    )
    done = digest(config, "reset", "--issue", key, "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"forgot issue {key}: 1 deliveries and 1 review records removed; subscribers and runs "
        "are kept"
    )
    assert "ada@example.org" in digest(config, "subscribers", "list").stdout
    history = digest(config, "history", env={"COLUMNS": "200"}).stdout
    assert " done " not in history and "sent" in history  # the run's row stays
    assert "1 review · subject:" in digest(config, "build").stdout  # the week can go out again
    assert_one_line_error(
        digest(config, "reset", "--issue", key, "--yes"), f"there is no issue {key} to forget"
    )


def test_a_misspelt_label_says_which_was_meant(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    (tmp_path / "reviews" / "typo.txt").write_text(
        "Overview: Fine. Net; 2026; PG; 90 min.\n\nRatng: B\n", encoding="utf-8"
    )
    result = digest(config, "sources", env=NO_TERMINAL)
    assert (
        f"problem: test reviews: {tmp_path / 'reviews' / 'typo.txt'}: 'Ratng:' is not a known "
        "label, so it opened a section; did you mean 'Rating:'?"
    ) in result.stdout.splitlines()


def test_the_send_summary_times_the_whole_run(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    add_review(tmp_path, "piano-men")
    assert digest(config, "subscribers", "add", "ada@example.org").returncode == 0
    sent = digest(config, "send", "--yes")
    took = re.search(r"1 sent, 0 deferred, 0 failed, 0 unknown in (\d+\.\d)s", sent.stdout)
    assert took is not None, sent.stdout
    assert float(took.group(1)) > 0.0  # collecting and rendering count, as in the log line
