"""The ``digest`` group, its shared options and the one error boundary of the command line.

Each command parses its options, calls one library function and prints the result. Any
``DigestError`` becomes one line on stderr and exit code 1 — no traceback for a problem the
user can fix.

``digest --help`` (and every command's ``--help``) imports only click: the config schema
(pydantic, apscheduler's cron parser, PyYAML), rich and each command's library are imported
when a command runs — the console on its first message, the config when a command first asks
for it, every library inside the command that uses it. ``tests/cli/test_lazy.py`` checks
``sys.modules`` after ``--help`` in a fresh interpreter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from digest.errors import DigestError, NotConfirmed

if TYPE_CHECKING:
    from rich.console import Console

    from digest.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def make_console(*, stderr: bool = False) -> Console:
    """The one terminal-width policy: on a terminal, rich fits lines to its width; anywhere
    else (cron mail, journald, a pipe) a message is never hard-wrapped mid-sentence — each one
    stays one line (``soft_wrap``), and tables keep rich's 80 columns, truncating with "…"."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, soft_wrap=not stream.isatty())


class _LazyConsole:
    """A ``Console`` made on first use, so ``--help`` never imports rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def real(self) -> Console:
        """The console itself, for what needs more than its methods (a progress bar)."""
        if self._console is None:
            self._console = make_console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def real_console(console: Console) -> Console:
    """``console`` or ``err_console`` as a rich ``Console`` proper."""
    lazy: object = console
    return lazy.real() if isinstance(lazy, _LazyConsole) else console


console = cast("Console", _LazyConsole(stderr=False))
err_console = cast("Console", _LazyConsole(stderr=True))


def escape(text: str) -> str:
    """rich's markup escaping (imported on first use)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class App:
    """What the group hands each command: the config path, loaded on first use."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from digest.config import load_config

            self._config = load_config(self.config_path)
        return self._config


pass_app = click.make_pass_decorator(App)


def now() -> datetime:
    """The current time; the one place the CLI reads the clock."""
    return datetime.now(UTC)


def parse_when(value: str | None, config: Config) -> datetime | None:
    """``--since`` / ``--until``: an ISO date or datetime, in the newsletter's timezone if naive."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2026-11-18 or 2026-11-18T08:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=config.newsletter.tz)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The config file (default: $DIGEST_CONFIG, else ./config.yaml).",
)
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Build and send a weekly digest of a review site's latest reviews."""
    ctx.obj = App(config_path or default_config_path())


def default_config_path() -> Path:
    """``$DIGEST_CONFIG``, else ``./config.yaml`` — ``config.load.default_config_path``, read
    here without importing the config schema (``tests/cli/test_lazy.py`` checks they agree)."""
    return Path(os.environ.get("DIGEST_CONFIG") or "config.yaml")


def _config_after_command(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        app = ctx.find_object(App)
        if app is not None:
            app.config_path = value


def accept_config_everywhere(group: click.Group) -> None:
    """``digest check --config x`` means ``digest --config x check``: the same option on every
    command and group, setting the one value the group's option sets."""
    for command in group.commands.values():
        command.params.append(
            click.Option(
                ["--config", "config_path"],
                type=click.Path(path_type=Path),
                expose_value=False,
                callback=_config_after_command,
                help="The config file (the same as `digest --config PATH` before the command).",
            )
        )
        if isinstance(command, click.Group):
            accept_config_everywhere(command)


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except DigestError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)


def ask(question: str, command: str) -> bool:
    """A yes/no prompt for ``digest COMMAND``. End of input on a terminal (Ctrl-D) is "no";
    with no terminal at all (cron, a pipe) it is one line saying to pass ``--yes``, not a bare
    ``Aborted.`` — and a run that asked is recorded as ended, never left unfinished."""
    try:
        return click.confirm(question, default=False)
    except click.exceptions.Abort:
        if sys.stdin.isatty():
            return False
        raise NotConfirmed(command) from None


def period_options(command: F) -> F:
    """``--since`` / ``--until``, for every command that picks a period."""
    command = click.option("--until", help="End of the period (default: now).")(command)
    return click.option(
        "--since", help="Start of the period (date or datetime; default: days before now)."
    )(command)
