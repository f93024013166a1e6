"""A delivery test's set-up against a ``ScriptedServer``: the config, N subscribers, the issue
recorded, and a send with a quick back-off (the fault tests and the pipelining tests)."""

from __future__ import annotations

import threading
from pathlib import Path

from digest.config import Config, load_config
from digest.deliver import SmtpTransport
from digest.pipeline.run import RunResult, run_once
from support.smtp import (
    NOW,
    ScriptedServer,
    add_subscribers,
    delivery_states,
    record,
    rendered_digest,
    write_config,
)


def scripted_config(tmp_path: Path, port: int, **smtp: object) -> Config:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "connections": 1,
        "rate": 0,
        "timeout": 5,
        "retries": 2,
        **smtp,
    }
    return load_config(write_config(tmp_path, smtp=settings))


def scripted_setup(tmp_path: Path, server: ScriptedServer, count: int, **smtp: object) -> Config:
    config = scripted_config(tmp_path, server.port, **smtp)
    add_subscribers(config, count)
    record(config, rendered_digest(config))
    return config


def scripted_send(config: Config, stop: threading.Event | None = None) -> RunResult:
    assert config.smtp is not None
    transport = SmtpTransport(
        config.smtp, password=config.smtp.password(str(config.path)), backoff_base=0.01
    )
    return run_once(config, now=NOW, transport=transport, stop=stop)


def statuses(config: Config) -> list[str]:
    """This week's delivery statuses, sorted."""
    return sorted(s for s, _ in delivery_states(config, "2026-W48").values())
