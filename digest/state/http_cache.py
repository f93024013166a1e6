"""The ``http_cache`` table: ETag / Last-Modified and the last body per URL (conditional GET).

The cache only saves bandwidth, so it never fails a fetch: an unreadable or unwritable cache
is logged and the feed is fetched in full.
"""

from __future__ import annotations

import logging
import sqlite3
import typing
from datetime import UTC, datetime

import httpx

from digest.errors import StateError
from digest.state.db import Connection

log = logging.getLogger(__name__)


def cache_lookup(conn: Connection | None, url: str) -> tuple[str | None, str | None, bytes] | None:
    """``(etag, last_modified, body)`` remembered for ``url``, or ``None``."""
    if conn is None:
        return None
    try:
        row = conn.execute(
            "SELECT etag, last_modified, body FROM http_cache WHERE url = ?", (url,)
        ).fetchone()
    except (sqlite3.Error, StateError) as e:
        # The cache only saves bandwidth: without it the feed is fetched in full.
        log.warning("http cache unreadable (%s); fetching %s in full", e, url)
        return None
    if row is None or row[2] is None:
        return None
    return (
        typing.cast("str | None", row[0]),
        typing.cast("str | None", row[1]),
        bytes(row[2]),
    )


def cache_store(conn: Connection | None, url: str, headers: httpx.Headers, body: bytes) -> None:
    """Remember ``body`` with its validators; forget the URL when the server sent none."""
    if conn is None:
        return
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    try:
        if not etag and not last_modified:
            conn.execute("DELETE FROM http_cache WHERE url = ?", (url,))
            return
        conn.execute(
            "INSERT INTO http_cache (url, etag, last_modified, body, fetched_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, body = excluded.body, "
            "fetched_at = excluded.fetched_at",
            (url, etag, last_modified, body, datetime.now(UTC).isoformat()),
        )
    except (sqlite3.Error, StateError) as e:
        log.warning("http cache not written (%s); %s will be fetched in full next time", e, url)
