"""``digest --help`` imports only what it uses: click and digest's own light modules — not the
config schema (pydantic, apscheduler, PyYAML), rich, or any stage's library. Every command's
``--help`` still works, and stays as light. Checked in a fresh interpreter, by ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import cli
from digest.cli.main import default_config_path

#: Imported by a command when it runs, never for ``--help``.
HEAVY = (
    "pydantic", "yaml", "apscheduler", "rich", "httpx", "feedparser", "starlette", "uvicorn",
    "mjml", "premailer", "lxml", "jinja2", "cryptography", "dkim", "nh3", "sqlite3",
    "email_validator", "digest.config", "digest.state", "digest.collect", "digest.render",
    "digest.deliver", "digest.pipeline", "digest.schedule", "digest.web", "digest.inbound",
)  # fmt: skip

_PROBE = """
import json, sys
sys.argv = ["digest", *sys.argv[1:]]
from digest.cli import main
code = 0
try:
    main()
except SystemExit as e:
    code = e.code
sys.stdout.flush()
print("\\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _help(*args: str) -> tuple[str, int, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "DIGEST_CONFIG": "/nonexistent/config.yaml"},
    )  # fmt: skip
    text, _, tail = out.stdout.rpartition("\n@@")
    found = json.loads(tail)
    return text, found["code"] or 0, set(found["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_digest_help_leaves_the_heavy_modules_unimported() -> None:
    text, code, modules = _help()
    assert code == 0
    assert "Commands:" in text and "send" in text
    assert "click" in modules  # the probe itself works: what --help does use is there
    assert _heavy(modules) == []


def _commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, command in sorted(cli.commands.items()):
        out.append((name,))
        for sub in sorted(getattr(command, "commands", {})):
            out.append((name, sub))
    return out


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_commands_help_works_and_stays_light(command: tuple[str, ...]) -> None:
    text, code, modules = _help(*command)
    assert code == 0, text
    assert f"Usage: digest {' '.join(command)}" in text
    assert _heavy(modules) == []


def test_the_cli_default_config_path_is_the_librarys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.config import default_config_path as library

    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert default_config_path() == library()
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "x.yaml"))
    assert default_config_path() == library() == tmp_path / "x.yaml"
