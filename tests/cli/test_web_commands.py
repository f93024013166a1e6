"""``digest serve`` as a user runs it: a real process, its log, and its start-up errors."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from support.web import add_subscriber, status_of, write_web_config

from digest.errors import DigestError, ServeError
from digest.web import app as web


def _digest(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_logs_each_request_without_tokens_or_addresses(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    jo = add_subscriber(config, "quiet.reader@example.net", "Quiet Reader")
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config.path), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    started = threading.Event()
    port: list[int] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port.append(int(found.group(1)))
                started.set()
        started.set()  # the process ended; let the test see why

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(60) and port, "".join(lines)
        base = f"http://127.0.0.1:{port[0]}"
        with httpx.Client(base_url=base, timeout=20) as client:
            assert client.get(f"/unsubscribe/{jo.token}").status_code == 200
            assert client.post(f"/unsubscribe/{jo.token}?t={jo.token}").status_code == 200
            assert client.get(f"/unsubscribe/{jo.token[::-1]}").status_code == 404
            assert client.get("/issues").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    log = "".join(lines)
    assert proc.returncode == 0, log
    assert status_of(config, jo.email) == "unsubscribed"
    assert re.search(r"GET /unsubscribe/<redacted> 200 [\d.]+ms", log), log
    assert re.search(r"POST /unsubscribe/<redacted> 200 [\d.]+ms", log), log
    assert re.search(r"GET /unsubscribe/<redacted> 404 [\d.]+ms", log), log
    assert re.search(r"GET /issues 200 [\d.]+ms", log), log
    assert jo.token[:10] not in log and jo.token[::-1][:10] not in log
    assert "quiet.reader" not in log and "Quiet Reader" not in log
    assert "Traceback" not in log


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _digest(config.path, "serve", "--port", str(port))
        with pytest.raises(ServeError) as raised:
            web.bind("127.0.0.1", port)
    assert result.returncode == 1
    expected = f"port {port} on 127.0.0.1 is in use; pass --port or set serve.port"
    assert result.stderr == f"error: {expected}\n"
    assert str(raised.value) == expected
    assert isinstance(raised.value, DigestError)


def test_a_host_that_is_not_ours_is_one_clear_line() -> None:
    with pytest.raises(ServeError, match="not an address of this machine; pass --host"):
        web.bind("192.0.2.1", 0)  # TEST-NET-1: never assigned to a real machine
    with pytest.raises(ServeError, match=re.escape("can't listen on 'no-such-host.invalid'")):
        web.bind("no-such-host.invalid", 0)


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    text = config.path.read_text(encoding="utf-8") + "serve: {port: eighty}\n"
    config.path.write_text(text, encoding="utf-8")
    result = _digest(config.path, "serve")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "serve.port" in result.stderr and "eighty" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unusable_state_database_stops_start_up(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    config.state.parent.mkdir(parents=True, exist_ok=True)
    config.state.write_bytes(b"not sqlite at all " * 200)
    result = _digest(config.path, "serve", "--port", "0")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {config.state}: ")
    assert "Traceback" not in result.stderr


def test_serve_is_documented_in_help(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    listing = _digest(config.path, "--help")
    assert re.search(r"serve\s+Serve one-click unsubscribe", listing.stdout)
    detail = _digest(config.path, "serve", "--help")
    assert "--host" in detail.stdout and "--port" in detail.stdout
