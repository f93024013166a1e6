"""What each send benchmark run starts from: the config, the 20 reviews, a state database
with N active subscribers and the issue already recorded, and Postfix's ``smtp-sink`` on
loopback (``bench/send.py``, ``bench/send_dkim.py``, ``bench/senders.py``)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/London"))
SENDER = "news@bench.example.org"


def _config_text(port: int, connections: int, dkim: str = "", state: str = "state.sqlite3") -> str:
    text = f"""
newsletter:
  title: The Bench Reel
  from: "The Bench Reel <{SENDER}>"
  base_url: https://bench.example.org
  timezone: Europe/London
sources:
  - {{type: folder, path: reviews}}
state: {state}
smtp: {{host: 127.0.0.1, port: {port}, security: none, connections: {connections},
        rate: 0, retries: 1}}
"""
    if dkim:
        text += "dkim: {domain: bench.example.org, selector: b1, key_file: dkim.pem"
        text += ", ed25519_selector: e1, ed25519_key_file: ed.pem}\n" if "ed" in dkim else "}\n"
    return text


def _reviews() -> list[object]:
    from digest.models import Facts, Grade, Image, Review

    grades = ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "D", "F"]
    out = []
    for i in range(20):
        out.append(
            Review(
                title=f"Bench Picture {i + 1}: The Long Way Round",
                published=NOW - timedelta(hours=6 + i),
                source="bench",
                key=f"bench-{i}",
                link=f"https://bench.example.org/reviews/bench-picture-{i + 1}/",
                author="Ines Harrow",
                overview=(
                    "A ferry pilot on a northern route spends one winter ferrying strangers, "
                    f"a dog and a grand piano across a frozen sound (part {i + 1})."
                ),
                facts=Facts(raw="Northwater; 2026; 12A; 104 min."),
                grade=Grade.parse(grades[i % len(grades)]),
                image=Image(
                    url=f"https://images.bench.example.org/still-{i + 1}.jpg",
                    alt=f"A still from Bench Picture {i + 1}",
                    credit="Northwater Pictures",
                    width=1200,
                    height=675,
                ),
            )
        )
    return out


def _prepare(
    folder: Path,
    subscribers: int,
    rendered: object,
    port: int,
    conns: int,
    dkim: str = "",
    state: str = "state.sqlite3",
) -> Path:
    from digest.config import load_config
    from digest.state import db, ledger

    folder.mkdir(parents=True)
    (folder / "reviews").mkdir()
    if dkim:
        _write_dkim_keys(folder)
    (folder / "config.yaml").write_text(_config_text(port, conns, dkim, state))
    config = load_config(folder / "config.yaml")
    conn = db.open_for(config)
    stamp = NOW.isoformat()
    with db.transaction(conn):
        conn.executemany(
            "INSERT INTO subscribers (email, name, status, token, created_at, updated_at)"
            " VALUES (?, ?, 'active', ?, ?, ?)",
            (
                (
                    f"reader{i:06d}@example.net",
                    f"Reader {i}",
                    secrets.token_urlsafe(32),
                    stamp,
                    stamp,
                )
                for i in range(subscribers)
            ),
        )
    ledger.record_issue(conn, rendered, now=NOW, path=config.state)  # type: ignore[arg-type]
    conn.close()
    return folder / "config.yaml"


def _write_dkim_keys(folder: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    keys = {
        "dkim.pem": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed.pem": ed25519.Ed25519PrivateKey.generate(),
    }
    for name, key in keys.items():
        (folder / name).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(tool: str, port: int) -> subprocess.Popen[bytes]:
    """Postfix's ``smtp-sink`` on 127.0.0.1:``port`` (as ``nobody`` when run as root), once
    it is listening."""
    command = [tool, "-u", "nobody", f"127.0.0.1:{port}", "1024"]
    sink = subprocess.Popen(command if os.geteuid() == 0 else command[:1] + command[3:])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sink
        except OSError:
            time.sleep(0.05)
    sink.terminate()
    sys.exit(f"smtp-sink did not start listening on 127.0.0.1:{port}")


def vm_hwm_mb() -> float:
    """Peak resident memory of this process, from ``/proc/self/status`` (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
