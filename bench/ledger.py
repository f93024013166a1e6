"""Ledger benchmark: does a claim or an outcome cost more late in a big issue?

    .venv/bin/python bench/ledger.py [--subscribers 100000] [--batch 32]

A state database with N active subscribers and one issue with a ``pending`` row each; then,
in one run, the CPU per row of claiming ``--batch`` rows and committing their outcomes (what
the delivery loop does per batch, ``state.deliveries``), first with every row pending, then
with 95 % of the issue already sent — side by side, so the figure to read is the ratio.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.state import db, deliveries


def _state(path: Path, count: int) -> object:
    conn = db.connect(path)
    deliveries.tune_for_sending(conn)
    with db.transaction(conn):
        conn.execute(
            "INSERT INTO issues (id, period_start, period_end, status, subject, preheader, "
            "markers, html, text, created_at) VALUES ('k', 'a', 'b', 'sending', 's', 'p', 'm', "
            "'h', 't', 'x')"
        )
        conn.executemany(
            "INSERT INTO subscribers (email, name, status, token, created_at, updated_at) "
            "VALUES (?, 'R', 'active', ?, 'x', 'x')",
            ((f"r{i}@example.net", secrets.token_urlsafe(8)) for i in range(count)),
        )
        conn.execute(
            "INSERT INTO deliveries (issue_id, subscriber_id, email, status, updated_at) "
            "SELECT 'k', id, email, 'pending', 'x' FROM subscribers"
        )
    return conn


def _per_row(conn: object, path: Path, batch: int, rounds: int = 30) -> float:
    started, rows = time.process_time(), 0
    for _ in range(rounds):
        claimed, _ = deliveries.claim(conn, "k", batch, path=path)  # type: ignore[arg-type]
        outcomes = [deliveries.Outcome(c.subscriber_id, "sent", "", "<id@x>") for c in claimed]
        deliveries.record_outcomes(conn, "k", outcomes, path=path)  # type: ignore[arg-type]
        rows += len(claimed)
    return (time.process_time() - started) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-ledger-") as tmp:
        path = Path(tmp) / "state.sqlite3"
        conn = _state(path, args.subscribers)
        early = _per_row(conn, path, args.batch)
        conn.execute(  # type: ignore[attr-defined]
            "UPDATE deliveries SET status = 'sent' WHERE subscriber_id <= ?",
            (args.subscribers * 95 // 100,),
        )
        late = _per_row(conn, path, args.batch)
    print(
        f"{args.subscribers} rows, batches of {args.batch}: claim + outcome "
        f"{early:.1f} µs per row with all pending, {late:.1f} µs with 95 % sent "
        f"({late / early - 1:+.0%})"
    )


if __name__ == "__main__":
    main()
