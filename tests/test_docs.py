"""The README is under test: every command is documented and has help, and its config parses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found += _commands(command, full + " ")
    return found


COMMANDS = _commands(cli)


def test_the_cli_has_the_commands_the_issues_ask_for() -> None:
    names = {name for name, _ in COMMANDS}
    assert {
        "check", "sources", "build", "preview", "send", "history", "run", "schedule", "next",
        "serve", "subscribers import", "subscribers add", "subscribers remove", "subscribers list",
    } <= names  # fmt: skip


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_is_in_the_readme_and_has_help(name: str, command: click.Command) -> None:
    assert f"`digest {name}" in README, f"`digest {name}` is not documented in README.md"
    assert command.help and command.help.strip(), f"`digest {name}` has no help text"
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_the_config_reference_in_the_readme_is_valid(tmp_path: Path) -> None:
    section = README.split("## Configuration reference", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    config = parse_config(block.group(1), tmp_path / "config.yaml")
    assert config.smtp is not None and config.smtp.password_env == "SMTP_PASSWORD"
    assert [s.type for s in config.sources] == ["folder", "feed", "wordpress"]


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    start = README.split("## Commands", 1)[0]
    assert "digest run" in start and "bash .ci/run" in start
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        ".venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy "
        "&& .venv/bin/pytest"
    )
    assert test_command in start and test_command in ci


def test_the_ci_script_cites_readme_sections_that_exist() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    cited = re.findall(r"README, ([^)]*)\)", ci)
    assert cited
    headings = set(re.findall(r"^#+ (.+)$", README, re.M))
    for quoted in re.findall(r'"([^"]+)"', " ".join(cited)):
        assert quoted in headings, f".ci/run cites a README section {quoted!r} that is not there"


def test_the_start_here_steps_say_what_the_readme_says(tmp_path: Path) -> None:
    """Command 1 of "Start here" and the two lines it promises, run on a copy of the checkout's
    config and samples; the README shows them for 2026-W49, the week is today's here."""
    from datetime import UTC, datetime

    from support.cli import digest

    from digest.config import load_config
    from digest.period import period_key

    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    # Copied without their modification times: the undated samples fall in this week.
    shutil.copytree(ROOT / "samples", tmp_path / "samples", copy_function=shutil.copy)
    config = tmp_path / "config.yaml"
    key = period_key(load_config(config), datetime.now(UTC))
    assert digest(config, "subscribers", "import", "samples/subscribers.csv").returncode == 0
    assert digest(config, "run").returncode == 0
    again = digest(config, "run")
    promised = re.search(r"`(already-sent: issue 2026-W49 [^`]*)`", README)
    assert promised is not None
    assert promised.group(1).replace("2026-W49", key) in again.stdout
    built = digest(config, "build", "--out", str(tmp_path / "build"))
    said = re.search(r"say `` (issue 2026-W49 already sent with \d+ reviews;)", README)
    assert said is not None and said.group(1).replace("2026-W49", key) in built.stdout
    assert f"`digest build --issue {key}` re-renders it" in built.stdout
