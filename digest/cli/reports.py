"""Terminal tables for ``digest check`` and ``digest sources``.

Every value from a source goes into a ``rich.text.Text``, never into markup, so a title such
as ``[bold]`` or ``[link=…]`` prints as written instead of styling the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text

from digest.collect.collection import Collection
from digest.models import Period, Problem
from digest.select import Selected


def health_table(collection: Collection) -> Table:
    """One row per source: ok with its review count, or what went wrong."""
    table = Table(title="Sources", title_justify="left")
    table.add_column("Source")
    table.add_column("Type")
    table.add_column("Status")
    table.add_column("Reviews", justify="right")
    table.add_column("Problems", justify="right")
    for health in collection.sources:
        # A failure's message names a path, and a typo in it must not be cut: the cell says
        # "failed" and the whole message follows the table (``failures``), on its own line.
        status = Text("ok", style="green") if health.ok else Text("failed (below)", style="red")
        table.add_row(
            Text(health.label),
            health.type,
            status,
            str(health.reviews) if health.ok else "-",
            str(health.problems) if health.ok else "-",
        )
    return table


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
