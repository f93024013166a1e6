"""Helpers for the schedule tests: a config, dated review files, subscribers, mail counts."""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.state import db, subscribers
from support.config import build_config

#: Invented titles for the test reviews (original text, not the shared sample).
TITLES = (
    "The Lantern Keeper",
    "Salt and Static",
    "A Field of Small Hours",
    "Northbound Freight",
    "The Cartographer's Daughter",
    "Glass Orchard",
    "Low Tide Radio",
    "The Second Ferry",
    "Paper Kingdoms",
    "Winter Line",
    "The Quiet Auditor",
    "Harbour Lights Out",
)


def write_config(
    tmp_path: Path,
    *,
    tz: str = "Europe/Berlin",
    cron: str = "0 8 * * mon",
    grace: str = "6h",
    second: str = "0",
    cadence: str = "weekly",
    smtp_port: int | None = None,
    feed_url: str | None = None,
    smtp: dict[str, Any] | None = None,
    state: str | None = None,
    **schedule: Any,
) -> Config:
    """A config in ``tmp_path``: a folder source (``reviews/``) or a loopback feed, the state
    database, and either a loopback SMTP sink (``smtp_port``) or a Maildir outbox; any other
    keyword is a ``schedule:`` key (``approval``, ``prepare``, ``editors`` …)."""
    source: dict[str, Any] = (
        {"type": "feed", "url": feed_url, "allow_private": True, "name": "loopback feed"}
        if feed_url
        else {"type": "folder", "path": "reviews/", "name": "test reviews"}
    )
    server = None
    if smtp_port is not None:
        server = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": 5}
        server.update(smtp or {})
    return build_config(
        tmp_path,
        newsletter={"timezone": tz, "postal_address": "1 Test Street, Testville"},
        sources=[source],
        selection={"max_reviews": 20},
        http={"connect_timeout": 2, "read_timeout": 2, "total_timeout": 5},
        schedule={"cron": cron, "grace": grace, "second": second, "cadence": cadence, **schedule},
        smtp=server,
        **({"state": state} if state else {}),
    )


def review_text(title: str, when: datetime, grade: str = "B+") -> str:
    return (
        f"Title: {title}\n"
        f"Date: {when.isoformat()}\n"
        f"Link: https://reel.example.org/reviews/{title.lower().replace(' ', '-')}/\n"
        "\n"
        f"Overview: {title} follows a stubborn night-shift worker through one long winter. "
        "Channel Nine; 2026; 12; 94 min.\n"
        "\n"
        "The Story: A small premise handled with patience, and an ending that earns its quiet.\n"
        "\n"
        "Overall: Modest, careful and worth an evening.\n"
        "\n"
        f"Rating: {grade}\n"
    )


def write_reviews(config: Config, dates: Iterable[datetime]) -> list[str]:
    """One review file per date in the folder source; returns the titles."""
    folder = config.folder / "reviews"
    titles = []
    for i, when in enumerate(dates):
        title = f"{TITLES[i % len(TITLES)]} {i + 1}"
        slug = title.lower().replace(" ", "-").replace("'", "")
        (folder / f"{slug}.txt").write_text(review_text(title, when), encoding="utf-8")
        titles.append(title)
    return titles


def add_subscribers(config: Config, count: int) -> list[str]:
    conn = db.connect(config.state)
    try:
        emails = [f"reader{i:03d}@example.net" for i in range(count)]
        for i, email in enumerate(emails):
            subscribers.add(conn, email, f"Reader {i}")
        return emails
    finally:
        conn.close()


def query(config: Config, sql: str, *args: object) -> list[Any]:
    conn = db.connect(config.state)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def maildir_copies(config: Config) -> Counter[tuple[str, str]]:
    """(recipient, subject) → how many messages the Maildir outbox holds (none: no outbox)."""
    if not config.outbox.exists():
        return Counter()
    box = mailbox.Maildir(config.outbox, create=False)
    try:
        return Counter((str(m["To"]), str(m["Subject"])) for m in box)
    finally:
        box.close()
