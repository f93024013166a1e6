"""Commands for a subscriber's later life: ``inbound`` (bounces, complaints, ``mailto:``
unsubscribes), ``subscribers export`` and ``subscribers erase``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from digest.cli.mail import subscribers
from digest.cli.main import App, cli, console, err_console, escape, now, pass_app


@cli.command()
@click.option("--imap", is_flag=True,
              help="Read the inbound: mailbox once instead of standard input.")  # fmt: skip
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read one message from standard input (the default; say it explicitly in "
                   "an MTA alias if you like).")  # fmt: skip
@pass_app
def inbound(app: App, imap: bool, from_stdin: bool) -> None:
    """Record bounces, complaints and mailto: unsubscribes: one message from standard input
    (an MTA pipe, a .forward), or the whole mailbox with --imap.

    A message on standard input that is empty, not understood or about no subscriber changes
    nothing and exits 1, so the MTA keeps or returns it for a person: nothing is dropped.

    Example: digest inbound < bounce.eml   (or "|digest --config /etc/digest.yaml inbound")
    Example: digest inbound --imap   (with inbound: in config.yaml and its password variable set)
    """
    from digest.errors import UnhandledMessage
    from digest.inbound.process import process_mailbox, process_message

    if imap and from_stdin:
        raise click.UsageError("--imap reads the mailbox, --stdin one message: pass one of them")
    if imap:
        report = process_mailbox(app.config, now=now())
    elif sys.stdin.isatty():
        raise UnhandledMessage(
            "standard input is a terminal; pipe a message in (digest inbound < bounce.eml) or "
            "pass --imap to read the inbound: mailbox"
        )
    else:
        report = process_message(app.config, sys.stdin.buffer.read(), now=now())
    for address, kind, status in report.changes:
        console.print(f"{escape(address)}: {kind} (now {status})")
    if not imap and report.left:
        why, subject = report.left[0]
        raise UnhandledMessage(
            f"standard input: {why} ({subject[:80]!r}); nothing was recorded — exit 1 so the "
            "MTA keeps the message for a person"
        )
    for why, subject in report.left:
        err_console.print(f"[yellow]left in the mailbox[/yellow] {escape(why)}: {escape(subject)}")
    total = sum(report.handled.values())
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.handled.items())) or "nothing"
    repeats = f"; {report.repeated} already recorded" if report.repeated else ""
    console.print(f"handled {total} message{'s' if total != 1 else ''} ({parts}){repeats}; "
                  f"{len(report.left)} left for a person")  # fmt: skip


@subscribers.command("export")
@click.argument("email", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="The whole list's format (one address is always JSON).",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE.")
@pass_app
def subscribers_export(app: App, email: str | None, fmt: str, out: Path | None) -> None:
    """Everything digest holds about one address, as JSON (a data access request); with no
    EMAIL, every subscriber: fields, status, dates, soft bounces (no tokens).

    Example: digest subscribers export nora@example.net --out nora.json
    Example: digest subscribers export --format csv --out list.csv
    """
    from digest.errors import SubscriberError
    from digest.state import db, privacy

    conn = db.open_for(app.config)
    try:
        if email is None:
            rows = list(privacy.export_all(conn))
            text = _csv(rows) if fmt == "csv" else _json(rows)
        else:
            if fmt == "csv":
                raise SubscriberError(
                    "--format csv is for the whole list; leave out EMAIL, or drop --format "
                    "for one address's JSON"
                )
            found = privacy.export(conn, email)
            if found is None:
                raise SubscriberError(f"{email} is not on the list; see `digest subscribers list`")
            text = _json(found)
    finally:
        conn.close()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as e:
        raise SubscriberError(f"{out}: can't write the export ({e.strerror})") from None
    err_console.print(f"wrote {escape(str(out))}")


def _json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    """One row per subscriber; the import file's extra columns follow the fixed ones."""
    import csv
    import io

    from digest.state.privacy import LIST_FIELDS

    extra = list(dict.fromkeys(k for r in rows for k in r["extra"] if k not in LIST_FIELDS))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*LIST_FIELDS, *extra])
    for r in rows:
        fixed = ["" if r[k] is None else r[k] for k in LIST_FIELDS]
        writer.writerow([*fixed, *(r["extra"].get(k, "") for k in extra)])
    return buffer.getvalue()


@subscribers.command("erase")
@click.argument("email")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")
@pass_app
def subscribers_erase(app: App, email: str, yes: bool) -> None:
    """Erase an address and everything about it (it is never imported again).

    Example: digest subscribers erase nora@example.net --yes
    """
    from digest.errors import SubscriberError
    from digest.state import db, privacy

    if not yes and not click.confirm(f"Erase {email} and its history for good?", default=False):
        raise click.exceptions.Abort()
    if not privacy.erase(db.open_for(app.config), email, now=now()):
        raise SubscriberError(f"{email} is not on the list; see `digest subscribers list`")
    console.print(
        f"{escape(email)} is erased; copies outside the state database (the outbox, the "
        "bounce mailbox, backups) are yours to remove"
    )
