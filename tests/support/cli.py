"""Driving the real CLI as a subprocess, so a traceback is seen exactly as an operator sees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m digest --config CONFIG ARGS…``, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit code 1, no traceback, exactly one ``error:`` line holding every ``expected`` part."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for part in expected:
        assert part in errors[0]
