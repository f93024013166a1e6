"""The editor's commands: ``prepare``, ``approve`` and ``note`` (``schedule.approval``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.main import App, cli, console, escape, now, pass_app
from digest.errors import ConfigError
from digest.status import FAILED_OUTCOMES

if TYPE_CHECKING:
    from digest.config import Config


def _require_approval(config: Config, command: str) -> None:
    if config.schedule.approval != "required":
        raise ConfigError(
            str(config.path),
            f"`digest {command}` is for issues an editor approves; set schedule.approval: "
            "required (with schedule.prepare and schedule.editors) to use it",
            key="schedule.approval",
        )


@cli.command()
@click.argument("issue", required=False)
@pass_app
def prepare(app: App, issue: str | None) -> None:
    """Collect and render the upcoming issue again and mail a new [PROOF] to the editors.

    Example: digest prepare 2026-W49
    """
    from digest.pipeline.approval import prepare_for_approval
    from digest.schedule.editorial import period_of

    config = app.config
    _require_approval(config, "prepare")
    when = now()
    result = prepare_for_approval(config, period_of(config, issue, when), now=when)
    console.print(f"{escape(result.outcome)}: {escape(result.message)}", soft_wrap=True)
    if result.outcome == "no-sources":
        raise click.exceptions.Exit(1)


@cli.command()
@click.argument("issue", required=False)
@pass_app
def approve(app: App, issue: str | None) -> None:
    """Approve the issue waiting for approval (the same as the proof's link); a held issue
    still within schedule.grace is sent at once.

    Example: digest approve 2026-W49
    """
    from digest.schedule.editorial import approve_issue

    config = app.config
    _require_approval(config, "approve")
    done = approve_issue(config, issue, now=now())
    console.print(escape(done.message), soft_wrap=True)
    if done.sent is not None:
        console.print(f"{escape(done.sent.outcome)}: {escape(done.sent.message)}", soft_wrap=True)
        if done.sent.outcome in FAILED_OUTCOMES:
            raise click.exceptions.Exit(1)


@cli.command()
@click.argument("issue", required=False)
@click.option(
    "--file",
    "source",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The Markdown file to use as the note.",
)
@pass_app
def note(app: App, issue: str | None, source: Path) -> None:
    """Set the editor's note of the upcoming issue (or ISSUE): a Markdown file, shown at the
    top. The same as writing notes/<ISSUE>.md.

    Example: digest note --file intro.md
    """
    from digest.schedule.editorial import write_note

    console.print(escape(write_note(app.config, issue, source, now=now())), soft_wrap=True)
