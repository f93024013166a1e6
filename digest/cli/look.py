"""Commands that look without sending: ``check``, ``sources``, ``build``, ``preview``, ``next``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.main import (
    App,
    cli,
    console,
    err_console,
    escape,
    now,
    parse_when,
    pass_app,
    period_options,
)
from digest.errors import NothingCollected
from digest.models import Problem, RenderedDigest, plural

if TYPE_CHECKING:
    import webbrowser

    from digest.config import Config

# --- collect: check, sources ---


@cli.command()
@pass_app
def check(app: App) -> None:
    """Validate the config and report the health of each source."""
    from digest.cli.reports import failures, health_table
    from digest.collect.collection import check_config, collect
    from digest.period import current_period

    config = app.config
    if problems := check_config(config):  # one line each: the state, the outbox, a secret …
        lines = (f"[red]error:[/red] {escape(str(p))}" for p in problems)
        err_console.print("\n".join(lines), soft_wrap=True)
        raise click.exceptions.Exit(1)
    console.print(f"[green]config ok:[/green] {escape(str(config.path))}")
    period = current_period(config, now())
    collection = collect(config, now=now(), since=period.start, until=period.end)
    console.print(health_table(collection, period))
    for line in failures(collection):
        console.print(line, soft_wrap=True)
    if collection.all_failed:
        err_console.print("[red]error:[/red] every source failed; see above")
        raise click.exceptions.Exit(1)


@cli.command()
@period_options
@click.option("--json", "as_json", is_flag=True, help="Print reviews and left_out as JSON.")
@pass_app
def sources(app: App, since: str | None, until: str | None, as_json: bool) -> None:
    """List the reviews the sources give for this period, and why others were left out."""
    import json

    from digest.cli.reports import left_out_table, problem_lines, selected_table, sources_record
    from digest.pipeline.issue import look_at_issue

    config = app.config
    found = look_at_issue(
        config, now=now(), since=parse_when(since, config), until=parse_when(until, config),
        render=False,
    )  # fmt: skip
    assert found.selected is not None and found.collection is not None  # never "stored" here
    selected, period, problems = found.selected, found.period, found.collection.problems
    if as_json:
        click.echo(json.dumps(sources_record(found), indent=2))
        for problem in problems:
            line = f"problem: {escape(problem.source)}: {escape(problem.message)}"
            err_console.print(line, soft_wrap=True)
    else:
        console.print(selected_table(selected, period))
        if selected.skipped:
            console.print(left_out_table(selected))
        for problem_line in problem_lines(problems):
            console.print(problem_line, soft_wrap=True)
    if found.broken:
        raise NothingCollected(found.why_nothing)


# --- render: build, preview ---


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Folder for digest.html, digest.txt and digest.eml.",
)
@period_options
@click.option(
    "--issue",
    metavar="KEY",
    help="Re-render a sent issue (e.g. 2026-W48) with the current templates, for template work.",
)
@pass_app
def build(app: App, out: Path, since: str | None, until: str | None, issue: str | None) -> None:
    """Render this period's digest to files (HTML, text, .eml) and lint it; sends nothing.

    Example: digest build --issue 2026-W48 (re-render an issue already sent)
    """
    from digest.pipeline.issue import look_at_issue, reissue

    config = app.config
    when = now()
    if issue is not None:
        again = reissue(config, issue, now=when)
        _print_problems(again.problems)
        found = again.carried - len(again.missing)
        console.print(
            f"re-rendering issue {escape(issue)} with the current templates: {found} of its "
            f"{plural(again.carried, 'review')} collected again from the sources (the ledger "
            "keeps their ids, not their text)"
        )
        if again.missing:
            missing = ", ".join(again.missing)
            console.print(f"[yellow]not found in the sources any more:[/yellow] {escape(missing)}")
        _write_build(config, again.rendered, out, when)
        return
    built = look_at_issue(
        config, now=when, since=parse_when(since, config), until=parse_when(until, config)
    )
    _print_problems(built.collection.problems if built.collection else ())
    if built.broken:
        raise NothingCollected(built.why_nothing)
    if built.rendered is None:
        console.print(escape(built.why_nothing))
        return
    _write_build(config, built.rendered, out, when)


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        err_console.print(f"problem: {escape(problem.source)}: {escape(problem.message)}")


def _write_build(config: Config, rendered: RenderedDigest, out: Path, when: datetime) -> None:
    from digest.pipeline.build import size_report, write_files

    for path in write_files(config, rendered, out, now=when):
        console.print(f"wrote {escape(str(path))}")
    console.print(
        f"{plural(len(rendered.reviews), 'review')} · subject: {escape(rendered.subject)}"
    )
    console.print(f"lint: size: {size_report(config, rendered)}", soft_wrap=True)
    for warning in rendered.warnings:
        console.print(f"[yellow]lint:[/yellow] {escape(warning)}", soft_wrap=True)
    if not rendered.warnings:
        console.print("[green]lint: no findings[/green]")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8026, show_default=True, help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
@pass_app
def preview(app: App, host: str, port: int, open_browser: bool) -> None:
    """Serve this period's digest on localhost, re-rendered when templates or sources change."""
    import threading

    import uvicorn

    from digest.web.app import bind
    from digest.web.preview import create_preview_app

    app.config  # noqa: B018 — report a bad config now, not on the first request
    # Bound before the banner, so a port in use is one line that says what to change.
    sock = bind(host, port, fix="pass another --port (digest preview --port 8027)")
    try:
        url = f"http://{host}:{sock.getsockname()[1]}/"
        console.print(f"previewing at {url}  (/text: plain text, /phone: 375 px)  — Ctrl+C stops")
        if open_browser:
            opener = _browser(url)
            if opener is not None:
                threading.Timer(1.0, opener.open, args=(url,)).start()
        from digest.schedule.editorial import upcoming_period

        preview_app = create_preview_app(app.config_path, upcoming=upcoming_period)
        settings = uvicorn.Config(preview_app, log_level="warning")
        uvicorn.Server(settings).run(sockets=[sock])
    finally:
        sock.close()


def _browser(url: str) -> webbrowser.BaseBrowser | None:
    """The browser ``--open`` uses, or ``None`` after saying there is none (a server, ssh)."""
    import webbrowser

    try:
        return webbrowser.get()
    except webbrowser.Error:
        err_console.print(
            f"--open: no browser found on this machine; open {url} yourself (or set $BROWSER)"
        )
        return None


@cli.command("next")
@pass_app
def next_command(app: App) -> None:
    """Say when the next run is due and which reviews it would include now (sends nothing)."""
    from digest.cli.reports import left_out_table, problem_lines, selected_table
    from digest.schedule.scheduler import describe_next, plan_next

    config = app.config
    when = now()
    plan = plan_next(config, now=when)
    if plan is None:
        console.print(f"schedule.cron {config.schedule.cron!r} never fires again")
        return
    console.print(escape(describe_next(config, plan, now=when)))
    console.print(selected_table(plan.selected, plan.period))
    if plan.selected.skipped:
        console.print(left_out_table(plan.selected))
    for line in problem_lines(plan.problems):
        console.print(line, soft_wrap=True)
