"""A subscriber's whole life through the real commands and servers: sign up on the web form
(uvicorn), confirm, be sent an issue (aiosmtpd), bounce and complain (DSN and ARF in dovecot,
read by ``digest inbound``), export, erase — then the raw state file is searched for them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.config import write_config_file
from support.imap import PASSWORD, USER, Dovecot
from support.inbound import mail
from support.smtp import NOW, Sink, write_reviews
from support.web import CONFIG, running, status_of

from digest.config import Config, load_config
from digest.pipeline.run import run_once
from digest.state import db, subscribers

ADDRESS = "Ines.Moreau@example.net"
LINK = re.compile(r"https://lateshow\.example\.org/confirm/([A-Za-z0-9_-]+)")


def _digest(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config.path), *args],
        capture_output=True, text=True, timeout=60, env={"BOUNCE_PASSWORD": PASSWORD,
        "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def _confirm_by_mail(site: httpx.Client, sink: Sink, seen: int) -> None:
    site.post("/subscribe", data={"email": ADDRESS, "name": "Inès"})
    deadline = time.monotonic() + 10
    while len(sink.received) <= seen and time.monotonic() < deadline:
        time.sleep(0.05)
    text = sink.received[seen].message.get_body(("plain",)).get_content()
    token = LINK.search(text).group(1)  # type: ignore[union-attr]
    site.get(f"/confirm/{token}")  # the reader's mail scanner
    assert site.post(f"/confirm/{token}").status_code == 200


def _files(config: Config) -> bytes:
    state = config.state
    return b"".join(p.read_bytes() for p in state.parent.glob(state.name + "*") if
                    not p.name.endswith(".bak"))  # fmt: skip


@pytest.mark.slow
def test_sign_up_confirm_bounce_come_back_complain_export_erase(
    tmp_path: Path, sink: Sink, dovecot: Dovecot
) -> None:
    path = write_config_file(
        tmp_path, **{**CONFIG, "outbox": None},
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0},
        signup={}, inbound={"host": "127.0.0.1", "port": dovecot.port, "security": "none",
                            "username": USER, "password_env": "BOUNCE_PASSWORD"},
    )  # fmt: skip
    config = load_config(path)
    write_reviews(tmp_path / "reviews", 2)
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as site:
        _confirm_by_mail(site, sink, 0)
        assert status_of(config, ADDRESS) == "active"

        # An issue goes out; the recipient's server bounces it (quoting our Message-ID).
        assert run_once(config, now=NOW).sent == 1
        copy = sink.received[-1].message
        dovecot.deliver(mail("dsn-hard-postfix", ADDRESS.lower(), msgid=copy["Message-ID"]))
        done = _digest(config, "inbound", "--imap")
        assert done.returncode == 0, done.stderr
        assert "hard-bounce (now bounced)" in done.stdout
        assert status_of(config, ADDRESS) == "bounced"

        # They fix their mailbox and sign up again; then mark the next issue as spam.
        _confirm_by_mail(site, sink, len(sink.received))
        assert status_of(config, ADDRESS) == "active"
    token = re.search(r"/unsubscribe/([A-Za-z0-9_-]+)", copy["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    dovecot.deliver(mail("arf-redacted", token=token, msgid=copy["Message-ID"]))
    assert "complaint (now complained)" in _digest(config, "inbound", "--imap").stdout

    exported = _digest(config, "subscribers", "export", ADDRESS)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["subscriber"]["status"] == "complained"
    assert data["subscriber"]["name"] == "Inès"
    kinds = [e["kind"] for e in data["events"]]
    assert kinds == ["signup", "confirmed", "hard-bounce", "signup", "confirmed", "complaint"]
    assert "5.1.1" in data["events"][2]["detail"]
    assert data["events"][0]["evidence"]["ip"] == "127.0.0.1"
    assert [d["status"] for d in data["deliveries"]] == ["sent"]
    assert token not in exported.stdout

    _erase_and_check(config, tmp_path)


def _erase_and_check(config: Config, tmp_path: Path) -> None:
    erased = _digest(config, "subscribers", "erase", ADDRESS, "--yes")
    assert erased.returncode == 0, erased.stderr
    raw = _files(config)
    for trace in (b"Ines.Moreau", b"ines.moreau", "Inès".encode(), b"In\\u00e8s"):
        assert trace not in raw, trace
    assert "not on the list" in _digest(config, "subscribers", "export", ADDRESS).stderr
    # The ledger still adds up: the issue was sent to one subscriber.
    conn = db.connect(config.state)
    assert conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0] == 1

    # No import brings the address back; the operator is told why.
    (tmp_path / "list.csv").write_text(f"email,name\n{ADDRESS.upper()},Ines\nnew@example.net,\n")
    imported = _digest(config, "subscribers", "import", str(tmp_path / "list.csv"))
    assert "erased at its owner's request" in imported.stderr
    assert "imported 1 new subscriber" in imported.stdout
    assert subscribers.get(conn, ADDRESS) is None
    refused = _digest(config, "subscribers", "add", ADDRESS)
    assert refused.returncode == 1 and "erased" in refused.stderr
    conn.close()
