"""Driving the real CLI as a subprocess, so a traceback is seen exactly as an operator sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: What cron or journald gives a command: no terminal, so rich's 80 columns and no colour.
NO_TERMINAL = {"COLUMNS": "80", "NO_COLOR": "1"}


def digest(
    config: Path | None,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m digest --config CONFIG ARGS…``, its output captured as text.

    No terminal, as under cron: stdin is ``/dev/null`` and stdout a pipe. ``config=None``
    leaves the option out (a test passes ``--config`` after the command itself); ``env`` is
    added to the environment (``COLUMNS``, ``PATH`` …); ``stdin`` is fed as standard input."""
    head = ["--config", str(config)] if config is not None else []
    return subprocess.run(
        [sys.executable, "-m", "digest", *head, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
        env={**os.environ, **env} if env is not None else None,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit code 1, no traceback, exactly one ``error:`` line holding every ``expected`` part."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for part in expected:
        assert part in errors[0]
