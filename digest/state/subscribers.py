"""The publication's subscriber list, kept in the state database.

Each subscriber has an unguessable unsubscribe ``token`` (32 random bytes, URL-safe) made when
they are added. We chose random stored tokens over HMAC-signed ones: they need no secret to be
configured for the out-of-the-box run, a forged or tampered token simply matches no row, and a
token can be rotated by re-adding the address. ``DIGEST_SECRET`` is not needed for tokens.

Unsubscribed, bounced and complained addresses are never mailed again; ``add`` on such an
address re-subscribes it (the publication's explicit act), keeping its token. An erased
address is refused by ``add`` and ``import`` alike (``state.erased``); only its owner, signing
up again and confirming, brings it back.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from digest.errors import SubscriberError
from digest.state import erased
from digest.state.db import Connection, transaction
from digest.status import SubscriberStatus


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: SubscriberStatus
    token: str
    extra: str = "{}"

    @property
    def first_name(self) -> str:
        """The import file's ``first_name`` (or ``first name``, ``firstname``) column, if any."""
        try:
            extra = json.loads(self.extra or "{}")
        except ValueError:
            return ""
        if not isinstance(extra, dict):
            return ""
        found = (extra.get(k) for k in ("first_name", "first name", "firstname"))
        return next((v for v in found if isinstance(v, str) and v.strip()), "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def normalise_address(address: str) -> str:
    """A valid, normalised address (no DNS look-up), or ``SubscriberError`` saying why."""
    if any(c in address for c in "\r\n\0"):
        raise SubscriberError(f"{address!r} is not a valid email address (line break)")
    try:
        found = validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise SubscriberError(f"{address.strip()!r} is not a valid email address: {e}") from None
    # RFC 5321's limits (64 before the @, 254 in all), which the validator lets pass.
    if len(found.rpartition("@")[0].encode()) > 64 or len(found.encode()) > 254:
        raise SubscriberError(f"{address.strip()[:80]!r}… is too long for an email address")
    return found


def _clean_name(name: str) -> str:
    return " ".join(name.split())[:200]


clean_name = _clean_name


def add(
    conn: Connection, email: str, name: str = "", extra: dict[str, str] | None = None
) -> Subscriber:
    """Add an address, or re-subscribe it if it was unsubscribed or bounced (its soft-bounce
    count then starts again, as after a confirmation)."""
    email = normalise_address(email)
    when = erased.erased_at(conn, email)
    if when is not None:
        raise SubscriberError(
            f"{email} was erased at its owner's request on {when[:10]}; it can come back only "
            "by signing up again on the web form"
        )
    now = _now()
    with transaction(conn):
        conn.execute(
            """INSERT INTO subscribers (email, name, extra, status, token, created_at, updated_at)
               VALUES (?, ?, ?, 'active', ?, ?, ?)
               ON CONFLICT (email) DO UPDATE SET
                   status = 'active',
                   soft_bounces = CASE WHEN subscribers.status = 'active'
                                       THEN subscribers.soft_bounces ELSE 0 END,
                   name = CASE WHEN excluded.name != '' THEN excluded.name
                               ELSE subscribers.name END,
                   extra = CASE WHEN excluded.extra != '{}' THEN excluded.extra
                                ELSE subscribers.extra END,
                   updated_at = excluded.updated_at""",
            (
                email,
                _clean_name(name),
                json.dumps(extra or {}, sort_keys=True),
                secrets.token_urlsafe(32),
                now,
                now,
            ),
        )
    found = get(conn, email)
    assert found is not None
    return found


def get(conn: Connection, email: str) -> Subscriber | None:
    row = conn.execute(
        "SELECT id, email, name, status, token, extra FROM subscribers WHERE email = ?",
        (email.strip(),),
    ).fetchone()
    return Subscriber(**dict(row)) if row else None


def remove(conn: Connection, email: str) -> bool:
    """Mark an address unsubscribed (the row stays so it is never mailed again)."""
    return set_status(conn, email, "unsubscribed")


def set_status(conn: Connection, email: str, status: SubscriberStatus) -> bool:
    with transaction(conn):
        cur = conn.execute(
            "UPDATE subscribers SET status = ?, updated_at = ? WHERE email = ?",
            (status, _now(), email.strip()),
        )
    return cur.rowcount > 0


def by_token(conn: Connection, token: str) -> Subscriber | None:
    if not token or len(token) > 100:
        return None
    row = conn.execute(
        "SELECT id, email, name, status, token, extra FROM subscribers WHERE token = ?", (token,)
    ).fetchone()
    if row is None or not secrets.compare_digest(row["token"], token):
        return None
    return Subscriber(**dict(row))


def unsubscribe_by_token(conn: Connection, token: str) -> Subscriber | None:
    """One-click unsubscribe: idempotent; ``None`` (and nothing changed) for an unknown token."""
    found = by_token(conn, token)
    if found is None:
        return None
    if found.status == "active":
        with transaction(conn):
            conn.execute(
                "UPDATE subscribers SET status = 'unsubscribed', updated_at = ? WHERE id = ?",
                (_now(), found.id),
            )
    return found


def status_counts(conn: Connection) -> dict[str, int]:
    """How many subscribers have each status (erased tombstones left out), every status
    shown even at 0, in ``SubscriberStatus`` order."""
    found = dict(
        conn.execute(
            "SELECT status, count(*) FROM subscribers WHERE status != 'erased' GROUP BY status"
        ).fetchall()
    )
    order = ("active", "pending", "bounced", "complained", "unsubscribed")
    return {s: int(found.get(s, 0)) for s in order}


def listing(conn: Connection, status: str | None = None) -> list[Subscriber]:
    sql = "SELECT id, email, name, status, token, extra FROM subscribers"
    args: tuple[str, ...] = ()
    if status:
        sql += " WHERE status = ?"
        args = (status,)
    return [Subscriber(**dict(r)) for r in conn.execute(sql + " ORDER BY id", args)]


def active(conn: Connection) -> list[Subscriber]:
    return listing(conn, "active")


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    invalid: tuple[str, ...]
    present: int = 0  # valid rows whose address was already on the list (left as it was)
    encoding: str = "UTF-8"  # how the file was read


def import_csv(conn: Connection, path: Path) -> ImportResult:
    """Import ``email,name,…`` rows (a header row is required; extra columns are kept).

    UTF-8 (with or without a BOM), else Windows-1252 — what Excel saves on Windows; the
    separator (``,`` ``;`` tab ``|``) is read from the header row, so a European Excel's
    semicolons work. Invalid rows are reported, never fatal; valid ones are added in one
    transaction.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SubscriberError(f"{path}: can't read the CSV file ({e.strerror})") from None
    text, encoding = _decode(data)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = next((d for d in ",;\t|" if d in first), ",")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = list(reader)
        header = reader.fieldnames or []
    except csv.Error as e:
        raise SubscriberError(f"{path}: can't read the CSV file ({e})") from None
    if "email" not in {k.strip().lower() for k in header if k}:
        raise SubscriberError(
            f"{path}: the first row must be a header with an 'email' column "
            f"(found: {', '.join(repr(k) for k in header) or 'nothing'})"
        )
    result = _import_rows(conn, rows)
    return dataclasses.replace(result, encoding=encoding)


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        # Windows-1252 leaves five bytes undefined; Latin-1 reads those as they are.
        try:
            return data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "Latin-1"


def _import_rows(conn: Connection, rows: Iterable[dict[str | None, str | None]]) -> ImportResult:
    invalid: list[str] = []
    valid: list[tuple[str, str, str]] = []
    for n, row in enumerate(rows, start=2):
        fields = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            email = normalise_address(fields.pop("email", ""))
        except SubscriberError as e:
            invalid.append(f"line {n}: {e}")
            continue
        if erased.erased_at(conn, email) is not None:
            invalid.append(f"line {n}: {email} was erased at its owner's request; not imported")
            continue
        name = _clean_name(fields.pop("name", ""))
        valid.append((email, name, json.dumps(fields, sort_keys=True)))
    now = _now()
    with transaction(conn):
        cur = conn.executemany(
            """INSERT INTO subscribers (email, name, extra, status, token, created_at, updated_at)
               VALUES (?, ?, ?, 'active', ?, ?, ?) ON CONFLICT (email) DO NOTHING""",
            [(e, n, x, secrets.token_urlsafe(32), now, now) for e, n, x in valid],
        )
        added = max(cur.rowcount, 0)  # executemany sums the rows it inserted
    return ImportResult(added=added, invalid=tuple(invalid), present=len(valid) - added)
