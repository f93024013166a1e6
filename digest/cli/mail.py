"""Commands that mail or manage the list: ``subscribers …``, ``send``, ``history``."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.main import (
    App,
    ask,
    cli,
    console,
    err_console,
    escape,
    now,
    parse_when,
    pass_app,
    period_options,
    real_console,
)
from digest.models import plural
from digest.status import FAILED_OUTCOMES, SubscriberStatus, values

# --- deliver: subscribers, send, history ---


@cli.group()
def subscribers() -> None:
    """Manage the subscriber list (kept in the state database)."""


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@pass_app
def subscribers_import(app: App, csv_file: Path) -> None:
    """Add subscribers from a CSV file with a header row: email, name, any extra columns."""
    from digest.state import db, subscribers

    conn = db.open_for(app.config)
    result = subscribers.import_csv(conn, csv_file)
    for line in result.invalid:
        err_console.print(f"[yellow]skipped[/yellow] {escape(line)}")
    parts = [f"imported {plural(result.added, 'new subscriber')}"]
    if result.present:
        parts.append(f"{result.present} already on the list (left as they were)")
    if result.invalid:
        parts.append(f"{plural(len(result.invalid), 'row')} skipped")
    read_as = "" if result.encoding == "UTF-8" else f" (read as {result.encoding}, not UTF-8)"
    console.print(", ".join(parts) + read_as)


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The name used in the greeting.")
@pass_app
def subscribers_add(app: App, email: str, name: str) -> None:
    """Add one subscriber (or re-subscribe an address)."""
    from digest.state import db, subscribers

    added = subscribers.add(db.open_for(app.config), email, name)
    console.print(f"{escape(added.email)} is subscribed")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: App, email: str) -> None:
    """Unsubscribe an address (it is kept, so it is never mailed again)."""
    from digest.errors import SubscriberError
    from digest.state import db, subscribers

    if not subscribers.remove(db.open_for(app.config), email):
        raise SubscriberError(f"{email} is not on the list; see `digest subscribers list`")
    console.print(f"{escape(email)} is unsubscribed")


@subscribers.command("list")
@click.option("--status", type=click.Choice(values(SubscriberStatus)))
@pass_app
def subscribers_list(app: App, status: str | None) -> None:
    """Show the subscribers (all, or those with one status)."""
    from digest.cli.display import status_summary, subscribers_table
    from digest.state import db, subscribers

    conn = db.open_for(app.config)
    try:
        console.print(subscribers_table(subscribers.listing(conn, status)))
        console.print(status_summary(subscribers.status_counts(conn)))
    finally:
        conn.close()


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would go to whom; write nothing.")
@click.option("--to", "to", metavar="ADDRESS", help="Send one [TEST] copy to ADDRESS only.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")
@period_options
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also re-send copies left 'unknown' (same Message-ID; a reader may get it twice).",
)
@click.option("--issue", metavar="KEY", help="Resume an earlier issue (e.g. 2026-W47).")
@pass_app
def send(app: App, dry_run: bool, to: str | None, yes: bool, since: str | None,
         until: str | None, resend_unknown: bool, issue: str | None) -> None:  # fmt: skip
    """Send this period's issue to every subscriber, once (resumes an interrupted send)."""
    from digest.cli import display
    from digest.pipeline import dry
    from digest.pipeline import run as pipeline

    config = app.config
    start, end = parse_when(since, config), parse_when(until, config)
    if dry_run:
        display.dry_run_lines(console, dry.dry_run(config, now=now(), since=start, until=end))
        return
    if to:
        sent = dry.send_test_copy(config, to, now=now(), since=start, until=end)
        console.print(escape(sent))
        return

    def confirm(plan: pipeline.Plan) -> bool:
        for w in plan.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(w)}")
        console.print(display.describe_plan(plan))
        return yes or ask("Send it?", "send" if issue is None else f"send --issue {issue}")

    with display.ProgressBar(real_console(console)) as bar:  # appears once sending starts
        result = pipeline.run_once(
            config, now=now(), confirm=confirm, progress=bar, since=start, until=end,
            resend_unknown=resend_unknown, issue=issue,
        )  # fmt: skip
    display.summary(console, result)
    if result.outcome in FAILED_OUTCOMES:
        click.get_current_context().exit(1)


@cli.command()
@click.option("--issue", "key", metavar="KEY", required=True, help="The issue to forget.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")
@pass_app
def reset(app: App, key: str, yes: bool) -> None:
    """Forget one issue (its row, deliveries and review records) so it can be built again.

    Subscribers are never touched and runs keep their history. Example: digest reset --issue
    2026-W48 — its reviews count as unsent again, and the next send mails that week again.
    """
    from digest.errors import StateError
    from digest.state import approvals, db, deliveries, forget, ledger
    from digest.state.locks import send_lock

    config = app.config
    conn = db.open_for(config)
    stored = ledger.get_issue(conn, key)
    if stored is None and approvals.get(conn, key) is not None:  # prepared, not sent: unfreeze
        if yes or ask(f"Forget the prepared issue {key} and its approval?", f"reset --issue {key}"):
            approvals.forget(conn, key, path=config.state)
            console.print(f"forgot the prepared issue {escape(key)}; `digest prepare` starts again")
        return
    if stored is None:
        known = ", ".join(ledger.issue_keys(conn)) or "none yet"
        raise StateError(str(config.state), f"there is no issue {key} to forget (issues: {known})")
    sent = deliveries.counts(conn, key)["sent"]
    if not yes:
        console.print(
            f"issue {escape(key)}: {stored.status}, {stored.review_count} reviews, {sent} copies "
            "sent. Forgetting it lets its reviews and its week go out again; subscribers stay."
        )
        if not ask(f"Forget issue {key}?", f"reset --issue {key}"):
            console.print("cancelled; nothing was changed")
            return
    with send_lock(config):  # never under a send that is using the issue's rows
        gone = forget.forget_issue(conn, key, path=config.state)
        approvals.forget(conn, key, path=config.state)
    assert gone is not None
    console.print(
        f"forgot issue {escape(key)}: {gone.deliveries} deliveries and {gone.reviews} review "
        "records removed; subscribers and runs are kept"
    )


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many issues and runs to show.")
@pass_app
def history(app: App, limit: int) -> None:
    """List issues with their sent / deferred / failed / unknown / pending counts, and runs."""
    from digest.cli.display import history_table, runs_table, status_summary
    from digest.state import db, ledger, runs, subscribers

    conn = db.open_for(app.config)
    console.print(history_table(ledger.history(conn, limit)))
    console.print(runs_table(runs.recent_runs(conn, limit)))
    console.print(status_summary(subscribers.status_counts(conn)))
