"""The ``digest`` command: thin commands over the library.

Each command parses its options, calls one library function and prints the result. Any
``DigestError`` becomes one line on stderr and exit code 1 — no traceback for a problem the
user can fix.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from digest.config import Config, default_config_path, load_config
from digest.errors import DigestError

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _App:
    """What the group hands each command: the config path, loaded on first use."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_app = click.make_pass_decorator(_App)


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
    ctx.obj = _App(config_path or default_config_path())


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


# Commands, grouped by the stage they drive. Each block is owned by one stage's work.

# --- collect: check, sources ---


@cli.command()
@pass_app
def check(app: _App) -> None:
    """Validate the config and report the health of each source."""
    from digest.cli.reports import health_table
    from digest.collect.collection import check_config, collect
    from digest.period import current_period

    config = app.config
    check_config(config)
    console.print(f"[green]config ok:[/green] {escape(str(config.path))}")
    period = current_period(config, now())
    collection = collect(config, now=now(), since=period.start, until=period.end)
    console.print(health_table(collection, period))
    if collection.all_failed:
        err_console.print("[red]error:[/red] every source failed; see the table above")
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--since", help="Start of the period (date or datetime; default: days before now).")
@click.option("--until", help="End of the period (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print reviews and left_out as JSON.")
@pass_app
def sources(app: _App, since: str | None, until: str | None, as_json: bool) -> None:
    """List the reviews the sources give for this period, and why others were left out."""
    import json

    from digest.cli.reports import left_out_table, selected_table, sources_record
    from digest.select import preview_selection

    config = app.config
    found = preview_selection(
        config, now=now(), since=parse_when(since, config), until=parse_when(until, config)
    )
    selected, period, problems = found.selected, found.period, found.collection.problems
    if as_json:
        click.echo(json.dumps(sources_record(found), indent=2))
        for problem in problems:
            line = f"problem: {escape(problem.source)}: {escape(problem.message)}"
            err_console.print(line, soft_wrap=True)
        return
    console.print(selected_table(selected, period))
    if selected.skipped or problems:
        console.print(left_out_table(selected, problems))


# --- render: build, preview ---


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Folder for digest.html, digest.txt and digest.eml.",
)
@click.option("--since", help="Start of the period (date or datetime; default: days before now).")
@click.option("--until", help="End of the period (default: now).")
@pass_app
def build(app: _App, out: Path, since: str | None, until: str | None) -> None:
    """Render this period's digest to files (HTML, text, .eml) and lint it; sends nothing."""
    from digest.pipeline.build import build_digest, write_files

    config = app.config
    when = now()
    built = build_digest(
        config, now=when, since=parse_when(since, config), until=parse_when(until, config)
    )
    for problem in built.collection.problems:
        err_console.print(f"problem: {escape(problem.source)}: {escape(problem.message)}")
    if built.rendered is None:
        console.print(escape(built.nothing_to_send))
        return
    for path in write_files(config, built.rendered, out, now=when):
        console.print(f"wrote {escape(str(path))}")
    rendered = built.rendered
    console.print(f"{len(rendered.reviews)} reviews · subject: {escape(rendered.subject)}")
    for warning in rendered.warnings:
        console.print(f"[yellow]lint:[/yellow] {escape(warning)}", soft_wrap=True)
    if not rendered.warnings:
        console.print("[green]lint: no findings[/green]")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8026, show_default=True, help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
@pass_app
def preview(app: _App, host: str, port: int, open_browser: bool) -> None:
    """Serve this period's digest on localhost, re-rendered when templates or sources change."""
    import threading
    import webbrowser

    import uvicorn

    from digest.web.preview import create_preview_app

    app.config  # noqa: B018 — report a bad config now, not on the first request
    url = f"http://{host}:{port}/"
    console.print(f"previewing at {url}  (/text: plain text, /phone: 375 px)  — Ctrl+C stops")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_preview_app(app.config_path), host=host, port=port, log_level="warning")


# --- deliver: subscribers, send, history ---


@cli.group()
def subscribers() -> None:
    """Manage the subscriber list (kept in the state database)."""


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@pass_app
def subscribers_import(app: _App, csv_file: Path) -> None:
    """Add subscribers from a CSV file with a header row: email, name, any extra columns."""
    from digest.state import db, subscribers

    conn = db.connect(app.config.state)
    result = subscribers.import_csv(conn, csv_file)
    for line in result.invalid:
        err_console.print(f"[yellow]skipped[/yellow] {escape(line)}")
    console.print(f"imported {result.added} new subscriber{'s' if result.added != 1 else ''}")


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The name used in the greeting.")
@pass_app
def subscribers_add(app: _App, email: str, name: str) -> None:
    """Add one subscriber (or re-subscribe an address)."""
    from digest.state import db, subscribers

    added = subscribers.add(db.connect(app.config.state), email, name)
    console.print(f"{escape(added.email)} is subscribed")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: _App, email: str) -> None:
    """Unsubscribe an address (it is kept, so it is never mailed again)."""
    from digest.errors import SubscriberError
    from digest.state import db, subscribers

    if not subscribers.remove(db.connect(app.config.state), email):
        raise SubscriberError(f"{email} is not on the list; see `digest subscribers list`")
    console.print(f"{escape(email)} is unsubscribed")


@subscribers.command("list")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced"]))
@pass_app
def subscribers_list(app: _App, status: str | None) -> None:
    """Show the subscribers (all, or those with one status)."""
    from digest.cli.display import subscribers_table
    from digest.state import db, subscribers

    console.print(subscribers_table(subscribers.listing(db.connect(app.config.state), status)))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would go to whom; write nothing.")
@click.option("--to", "to", metavar="ADDRESS", help="Send one [TEST] copy to ADDRESS only.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")
@click.option("--since", help="Start of the period (date or datetime; default: days before now).")
@click.option("--until", help="End of the period (default: now).")
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also re-send copies left 'unknown' (same Message-ID; a reader may get it twice).",
)
@click.option("--issue", metavar="KEY", help="Resume an earlier issue (e.g. 2026-W47).")
@pass_app
def send(app: _App, dry_run: bool, to: str | None, yes: bool, since: str | None,
         until: str | None, resend_unknown: bool, issue: str | None) -> None:  # fmt: skip
    """Send this period's issue to every subscriber, once (resumes an interrupted send)."""
    from digest.cli import display
    from digest.pipeline import run as pipeline

    config = app.config
    start, end = parse_when(since, config), parse_when(until, config)
    if dry_run:
        display.dry_run_lines(console, pipeline.dry_run(config, now=now(), since=start, until=end))
        return
    if to:
        sent = pipeline.send_test_copy(config, to, now=now(), since=start, until=end)
        console.print(escape(sent))
        return

    def confirm(plan: pipeline.Plan) -> bool:
        for w in plan.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(w)}")
        console.print(display.describe_plan(plan))
        return yes or click.confirm("Send it?", default=False)

    with display.ProgressBar(console) as bar:  # appears once sending starts
        result = pipeline.run_once(
            config, now=now(), confirm=confirm, progress=bar, since=start, until=end,
            resend_unknown=resend_unknown, issue=issue,
        )  # fmt: skip
    display.summary(console, result)
    if result.outcome == "no-sources":
        click.get_current_context().exit(1)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many issues and runs to show.")
@pass_app
def history(app: _App, limit: int) -> None:
    """List issues with their sent / deferred / failed / unknown / pending counts, and runs."""
    from digest.cli.display import history_table, runs_table
    from digest.state import db, ledger

    conn = db.connect(app.config.state)
    console.print(history_table(ledger.history(conn, limit)))
    console.print(runs_table(ledger.recent_runs(conn, limit)))


# --- run on its own: run, schedule, next ---


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@cli.command("run")
@pass_app
def run_command(app: _App) -> None:
    """Run once now, as the scheduler does: resume, collect, render, send, record."""
    from digest.schedule.scheduler import stop_on_signals
    from digest.schedule.tick import run_now

    _log_to_stderr()
    with stop_on_signals() as stop:
        results = run_now(app.config, now=now(), stop=stop)
    for result in results:
        if result.outcome == "error":
            err_console.print(f"[red]error:[/red] {escape(result.message)}", soft_wrap=True)
        else:
            console.print(f"{escape(result.outcome)}: {escape(result.message)}", soft_wrap=True)
    if any(r.outcome in ("error", "no-sources") for r in results):
        raise click.exceptions.Exit(1)  # a cron job driving `digest run` should hear about it


@cli.command()
@pass_app
def schedule(app: _App) -> None:
    """Run in the foreground, sending each issue on schedule.cron (stop with SIGTERM/Ctrl-C)."""
    from digest.schedule.scheduler import run_scheduler, stop_on_signals

    config = app.config
    _log_to_stderr()
    with stop_on_signals() as stop:
        run_scheduler(config, stop=stop)


@cli.command("next")
@pass_app
def next_command(app: _App) -> None:
    """Say when the next run is due and which reviews it would include now (sends nothing)."""
    from digest.cli.reports import left_out_table, selected_table
    from digest.schedule.scheduler import describe_next, plan_next

    config = app.config
    when = now()
    plan = plan_next(config, now=when)
    if plan is None:
        console.print(f"schedule.cron {config.schedule.cron!r} never fires again")
        return
    console.print(escape(describe_next(config, plan, now=when)))
    console.print(selected_table(plan.selected, plan.period))
    if plan.selected.skipped or plan.problems:
        console.print(left_out_table(plan.selected, plan.problems))


# --- web: serve ---


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: serve.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on; 0 picks a free one (default: serve.port).",
)
@pass_app
def serve_command(app: _App, host: str | None, port: int | None) -> None:
    """Serve one-click unsubscribe, the issue archive and its RSS feed (and /preview if on)."""
    from digest.web.app import serve  # starlette and uvicorn load only for this command

    config = app.config
    serve(config, host or config.serve.host, config.serve.port if port is None else port)
