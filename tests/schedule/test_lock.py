"""The runner lock: one runner at a time, and a killed holder never leaves it held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from digest.config import Config, parse_config
from digest.errors import RunnerBusy
from digest.state.locks import lock_path, runner_lock


def make_config(tmp_path: Path) -> Config:
    text = """
newsletter:
  title: Test Reel
  from: "Test Reel <news@reel.example.org>"
  base_url: https://reel.example.org
  timezone: Europe/Berlin
sources:
  - {type: folder, path: reviews/}
state: state/digest.sqlite3
"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from digest.config import load_config
    from digest.state.locks import runner_lock
    with runner_lock(load_config(sys.argv[1])):
        print("held", flush=True)
        time.sleep(60)
    """
)


def start_holder(config: Config) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(config.path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_runner_gets_a_clear_message_naming_the_holder(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with start_holder(config) as holder:
        try:
            with pytest.raises(RunnerBusy) as caught, runner_lock(config, wait=0.2):
                pass
            message = str(caught.value)
            assert f"another digest is running (pid {holder.pid}, lock file" in message
            assert str(lock_path(config)) in message
        finally:
            holder.terminate()


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with start_holder(config) as holder:
        os.kill(holder.pid, signal.SIGKILL)
    assert lock_path(config).exists()  # the file stays; the kernel dropped the flock
    with runner_lock(config, wait=0.2) as path:
        assert path.read_text().strip() == str(os.getpid())


def test_the_lock_is_reusable_after_release_and_exclusive_while_held(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with runner_lock(config, wait=0.2), pytest.raises(RunnerBusy), runner_lock(config, wait=0.1):
        pass
    with runner_lock(config, wait=0.2):
        pass
