"""`digest check` opens what the config names — the state, the outbox, the CA file — and
fails with one line per problem instead of saying "config ok"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import trustme

CONFIG = """\
newsletter:
  title: Test Digest
  from: "Test <news@example.org>"
  base_url: https://example.org
sources:
  - {{type: folder, path: reviews}}
{extra}"""


def check(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "reviews").mkdir(exist_ok=True)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unusable_state_and_outbox_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be\n", encoding="utf-8")
    result = check(tmp_path, "state: blocker/digest.sqlite3\noutbox: blocker\n")
    assert result.returncode == 1, result.stdout
    assert "config ok" not in result.stdout and "Traceback" not in result.stderr
    state, outbox = result.stderr.strip().splitlines()
    assert state.startswith(f"error: {tmp_path / 'config.yaml'}: state: ")
    assert "blocker is a file, not a folder" in state
    assert outbox.startswith(f"error: {tmp_path / 'config.yaml'}: outbox: ")
    assert "not a Maildir folder" in outbox or "not a folder" in outbox


def test_a_state_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"these are not the pages of a database\n" * 200)
    result = check(tmp_path, "state: state.sqlite3\n")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert ": state: can't use the state database (file is not a database)" in line


def test_a_ca_file_that_is_missing_or_not_pem(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n", encoding="utf-8")
    smtp = "smtp: {{host: mail.example.org, ca_file: {}}}\n"
    bad = check(tmp_path, smtp.format("ca.pem"))
    assert bad.returncode == 1
    [line] = bad.stderr.strip().splitlines()
    assert ": smtp.ca_file: " in line and "holds no PEM certificate" in line
    missing = check(tmp_path, smtp.format("nowhere.pem"))
    assert "nowhere.pem: no such file" in missing.stderr
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "good.pem"))
    good = check(tmp_path, smtp.format("good.pem"))
    assert good.returncode == 0, good.stderr
    assert "config ok" in good.stdout
