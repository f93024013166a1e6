"""An issue read back for re-rendering, and an issue forgotten (``digest build --issue``,
``digest reset --issue``).

The ledger's tables (``issues``, ``deliveries``, ``issue_reviews``) are owned by ``ledger``;
these two operations on them live here so that module stays the send path's. Forgetting an
issue deletes its row, its deliveries and its review records in one transaction; ``runs`` keep
their history and subscribers are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.state.db import Connection, Where, is_postgres, transaction


def issue_reviews(conn: Connection, key: str) -> dict[str, str]:
    """``{review id: title}`` for each review issue ``key`` carried, in the order recorded."""
    order = "seq" if is_postgres(conn) else "rowid"  # the order they were recorded in
    rows = conn.execute(
        f"SELECT review_id, title FROM issue_reviews WHERE issue_id = ? ORDER BY {order}",  # noqa: S608
        (key,),
    )
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What ``forget_issue`` removed."""

    key: str
    deliveries: int
    reviews: int


def forget_issue(conn: Connection, key: str, *, path: Where) -> Forgotten | None:
    """Delete issue ``key`` with its deliveries and review records; ``None`` if there is none."""
    with transaction(conn, path):
        if conn.execute("SELECT 1 FROM issues WHERE id = ?", (key,)).fetchone() is None:
            return None
        deliveries = conn.execute("DELETE FROM deliveries WHERE issue_id = ?", (key,)).rowcount
        reviews = conn.execute("DELETE FROM issue_reviews WHERE issue_id = ?", (key,)).rowcount
        conn.execute("DELETE FROM issues WHERE id = ?", (key,))
    return Forgotten(key, deliveries, reviews)
