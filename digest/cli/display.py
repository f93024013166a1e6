"""Rich tables and the progress bar for the deliver commands (kept out of ``cli.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from digest.pipeline.dry import DryRun
from digest.pipeline.run import Plan, RunResult
from digest.state.ledger import IssueSummary
from digest.state.runs import RunSummary
from digest.state.subscribers import Subscriber
from digest.status import FAILED_OUTCOMES


def subscribers_table(rows: Sequence[Subscriber]) -> Table:
    table = Table(title=f"{len(rows)} subscriber{'s' if len(rows) != 1 else ''}")
    for col in ("email", "name", "status"):
        table.add_column(col)
    for s in rows:
        style = "" if s.status == "active" else "dim"
        table.add_row(escape(s.email), escape(s.name), s.status, style=style)
    return table


def history_table(issues: Sequence[IssueSummary]) -> Table:
    table = Table(
        title="Issues, newest first", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    for col, width in (("issue", 8), ("status", 7), ("date", 10)):
        table.add_column(col, no_wrap=True, min_width=width)
    # Short headings so the table fits 80 columns: reviews, sent, deferred, failed, unknown,
    # pending (pending includes copies a crashed sender left "sending").
    for col in ("revs", "sent", "defer", "fail", "unkn", "pend"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    # The one shrinkable column: a wrappable column holding one-line cells, so rich narrows it
    # and ends the subject with "…" instead of cropping the whole table at the edge.
    table.add_column("subject", overflow="ellipsis", min_width=8)
    for i in issues:
        c = i.counts
        table.add_row(
            i.key, i.status, (i.finished_at or i.created_at)[:10], str(i.review_count),
            str(c["sent"]), str(c["deferred"]), _warn(c["failed"]), _warn(c["unknown"]),
            str(c["pending"] + c["sending"]),
            Text(i.subject or i.note, no_wrap=True, overflow="ellipsis"),
        )  # fmt: skip
    return table


def runs_table(runs: Sequence[RunSummary]) -> Table:
    table = Table(title="Runs, newest first", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("started", "trigger", "issue", "outcome"):
        table.add_column(col, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for r in runs:
        style = "red" if r.outcome in FAILED_OUTCOMES else ""
        table.add_row(
            r.started_at[:16].replace("T", " "), r.trigger, r.issue_id, r.outcome,
            escape(r.detail), style=style,
        )  # fmt: skip
    return table


def _warn(n: int) -> str:
    return f"[red]{n}[/red]" if n else "0"


def describe_plan(plan: Plan) -> str:
    verb = "resume issue" if plan.resuming else "send issue"
    return (
        f"{verb} [bold]{plan.issue_id}[/bold] — {plan.reviews} review"
        f"{'s' if plan.reviews != 1 else ''} to {plan.recipients} recipient"
        f"{'s' if plan.recipients != 1 else ''} via {escape(plan.transport)}\n"
        f"subject: {escape(plan.subject)}"
    )


def dry_run_lines(console: Console, found: DryRun) -> None:
    if found.note:
        console.print(f"dry run: {escape(found.note)}")
        return
    console.print("dry run (nothing is written or sent): " + describe_plan(found.plan))
    if found.plan.recipients == 0:
        console.print(
            "no active subscribers: a real send would record nothing and send nothing; "
            "add some with `digest subscribers import FILE.csv`"
        )
        return
    table = Table()
    for col in ("to", "name", "status"):
        table.add_column(col)
    for email, name, status in found.recipients:
        table.add_row(escape(email), escape(name), status)
    console.print(table)
    more = found.plan.recipients - len(found.recipients)
    if more > 0:
        console.print(f"… and {more} more")


def summary(console: Console, result: RunResult) -> None:
    for p in result.problems:
        console.print(f"[yellow]source problem:[/yellow] {escape(p.source)}: {escape(p.message)}")
    console.print(escape(result.message))
    for key in result.unfinished:
        console.print(
            f"[yellow]issue {key} still has copies to send[/yellow]: "
            f"`digest send --issue {key}` resumes it"
        )
    if result.unknown:
        console.print(
            f"[yellow]{result.unknown} copies are 'unknown'[/yellow]: the server dropped the "
            "connection after the message was handed over; they are not re-sent "
            "(see `digest history`)."
        )


class ProgressBar:
    """A progress callback that shows a bar from the first update (after any prompt)."""

    def __init__(self, console: Console):
        self.console = console
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = Progress(
                TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TimeRemainingColumn(), console=self.console,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("send", total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done, total=total)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def status_summary(counts: dict[str, int]) -> str:
    """``subscribers: 12 active, 3 pending, 1 bounced, 0 complained, 2 unsubscribed``."""
    return "subscribers: " + ", ".join(f"{n} {status}" for status, n in counts.items())
