"""Terminal tables for ``digest check`` and ``digest sources``.

Every value from a source goes into a ``rich.text.Text``, never into markup, so a title such
as ``[bold]`` or ``[link=…]`` prints as written instead of styling the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text

from digest.collect.collection import Collection, review_record
from digest.models import Period, Problem
from digest.pipeline.issue import PreparedIssue
from digest.select import Selected


def health_table(collection: Collection, period: Period) -> Table:
    """One row per source: ok with its posts in and outside ``period``, or what went wrong.

    A source that answers but has nothing in the period says so, with its newest date, so a
    site whose posts are all older never reads as a bare "ok, 0".
    """
    table = Table(title=f"Sources ({period.key})", title_justify="left")
    table.add_column("Source")
    table.add_column("Type")
    table.add_column("Status")
    table.add_column("In period", justify="right")
    table.add_column("Outside", justify="right")
    table.add_column("Problems", justify="right")
    for health in collection.sources:
        # A failure's message names a path, and a typo in it must not be cut: the cell says
        # "failed" and the whole message follows the table (``failures``), on its own line.
        status = Text("ok", style="green") if health.ok else Text("failed (below)", style="red")
        if health.ok and not health.in_period:
            latest = health.latest.astimezone(period.start.tzinfo) if health.latest else None
            status = Text(
                f"ok, but nothing in this period (newest {latest:%Y-%m-%d})"
                if latest
                else "ok, but it has no posts at all",
                style="yellow",
            )
        table.add_row(
            Text(health.label),
            health.type,
            status,
            str(health.in_period) if health.ok else "-",
            str(health.outside) if health.ok else "-",
            str(health.problems) if health.ok else "-",
        )
    return table


def sources_record(found: PreparedIssue) -> dict[str, Any]:
    """``digest sources --json``: the period, the selection, and every entry left out.

    ``left_out`` lists each review not selected with its reason (``kind`` is one of
    ``models.SkipKind``) and, for a duplicate, the copy it was folded into; ``problems``
    lists the entries that could not be read at all. Together they account for every entry.
    """
    period = found.period
    assert found.selected is not None and found.collection is not None  # render=False looks
    return {
        "period": {
            "key": period.key,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "reviews": [review_record(r) for r in found.selected.reviews],
        "left_out": [
            {
                "title": s.title,
                "source": s.source,
                "reason": s.reason,
                "kind": s.kind,
                "folded_into": None
                if s.folded_into is None
                else {
                    "id": s.folded_into.id,
                    "title": s.folded_into.title,
                    "source": s.folded_into.source,
                    "url": s.folded_into.link,
                },
            }
            for s in found.selected.skipped
        ],
        "problems": [{"source": p.source, "message": p.message} for p in found.collection.problems],
    }


def failures(collection: Collection) -> list[Text]:
    """Each failed source's whole message, one line each, printed after ``health_table``."""
    return [
        Text.assemble((f"{h.label}: ", "bold"), (h.error, "red"))
        for h in collection.sources
        if not h.ok
    ]


def selected_table(selected: Selected, period: Period) -> Table:
    """The reviews chosen for ``period``, in issue order."""
    # The window the reasons below were judged by: reaching back, it starts earlier.
    start = selected.reach.astimezone(period.start.tzinfo) if selected.reach else period.start
    span = f"{start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M} ({period.key})"
    if selected.reach is not None:
        span += f", reaching back from {period.start:%Y-%m-%d %H:%M} for the last issue's leftovers"
    table = Table(title=f"Reviews for {span}", title_justify="left")
    table.add_column("Title")
    table.add_column("Date")
    table.add_column("Grade")
    table.add_column("Image")
    table.add_column("Source")
    for review in selected.reviews:
        table.add_row(
            Text(review.title),
            f"{review.published.astimezone(period.start.tzinfo):%Y-%m-%d}",
            Text(review.grade.letter if review.grade else "-"),
            "yes" if review.image else "no",
            Text(review.source),
        )
    if not selected.reviews:
        table.caption = "No reviews in this period."
    return table


def left_out_table(selected: Selected) -> Table:
    """Each review left out and why (a source's problems follow as ``problem_lines``)."""
    table = Table(title="Left out", title_justify="left")
    table.add_column("Title")
    table.add_column("Source")
    table.add_column("Why")
    for skipped in selected.skipped:
        table.add_row(Text(skipped.title), Text(skipped.source), Text(skipped.reason))
    return table


def problem_lines(problems: Iterable[Problem]) -> list[Text]:
    """Each problem a source met, whole, one line each: a path in it is never cut."""
    return [Text.assemble(("problem: ", "red"), f"{p.source}: ", p.message) for p in problems]
