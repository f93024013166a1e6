"""Commands that run on their own: ``run``, ``schedule``, ``serve``."""

from __future__ import annotations

import sys

import click

from digest.cli.main import (
    App,
    cli,
    console,
    err_console,
    escape,
    now,
    pass_app,
)
from digest.status import FAILED_OUTCOMES

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
def run_command(app: App) -> None:
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
    if any(r.outcome in FAILED_OUTCOMES for r in results):
        raise click.exceptions.Exit(1)  # a cron job driving `digest run` should hear about it


@cli.command()
@pass_app
def schedule(app: App) -> None:
    """Run in the foreground, sending each issue on schedule.cron (stop with SIGTERM/Ctrl-C)."""
    from digest.schedule.scheduler import run_scheduler, stop_on_signals

    config = app.config
    _log_to_stderr()
    with stop_on_signals() as stop:
        run_scheduler(config, stop=stop)


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
def serve_command(app: App, host: str | None, port: int | None) -> None:
    """Serve one-click unsubscribe, the issue archive and its RSS feed (and /preview if on)."""
    from digest.schedule.editorial import upcoming_period
    from digest.web.app import serve  # starlette and uvicorn load only for this command

    config = app.config
    port = config.serve.port if port is None else port
    serve(config, host or config.serve.host, port, upcoming=upcoming_period)
