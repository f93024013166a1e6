"""``digest subscribers export`` with no address: the whole list, as CSV or JSON, through the
real command — every status, the dates, the soft-bounce count, the extra columns, no tokens;
and the status counts that end `subscribers list` and `history`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.cli import assert_one_line_error, digest
from support.config import write_config_file

from digest.config import load_config
from digest.state import db, events, signup, subscribers

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _list(tmp_path: Path) -> tuple[Path, set[str]]:
    path = write_config_file(tmp_path)
    conn = db.connect(load_config(path).state)
    try:
        tokens = set()
        for who in ("active", "bounced", "leaver", "soft"):
            extra = {"city": "Lyon"} if who == "active" else None
            tokens.add(subscribers.add(conn, f"{who}@example.net", who.title(), extra).token)
        subscribers.set_status(conn, "bounced@example.net", "bounced")
        subscribers.set_status(conn, "leaver@example.net", "unsubscribed")
        soft = subscribers.get(conn, "soft@example.net")
        assert soft is not None
        events.apply_report(conn, (soft.id, soft.email), "soft-bounce", at=NOW, source="<s1@x>",
                            detail="4.2.2", evidence={}, soft_limit=3)  # fmt: skip
        asked = signup.request(conn, "new@example.net", "New", now=NOW, ip="192.0.2.1",
                               within=timedelta(hours=1), per_address=3, per_ip=10)  # fmt: skip
        assert asked.outcome == "mail"
        confirmed = signup.request(conn, "conf@example.net", "", now=NOW, ip="192.0.2.1",
                                   within=timedelta(hours=1), per_address=3, per_ip=10)  # fmt: skip
        signup.confirm(conn, confirmed.token, now=NOW)
        tokens |= {asked.token, confirmed.token}
        tokens |= {s.token for e in ("new@example.net", "conf@example.net")
                   if (s := subscribers.get(conn, e))}  # fmt: skip
    finally:
        conn.close()
    return path, tokens


def test_the_whole_list_as_csv(tmp_path: Path) -> None:
    path, tokens = _list(tmp_path)
    done = digest(path, "subscribers", "export", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert {e: r["status"] for e, r in rows.items()} == {
        "active@example.net": "active", "bounced@example.net": "bounced",
        "leaver@example.net": "unsubscribed", "soft@example.net": "active",
        "new@example.net": "pending", "conf@example.net": "active",
    }  # fmt: skip
    assert rows["soft@example.net"]["soft_bounces"] == "1"
    assert rows["active@example.net"]["city"] == "Lyon"
    assert rows["active@example.net"]["name"] == "Active"
    assert rows["conf@example.net"]["confirmed_at"].startswith("2026-11-30")
    assert rows["new@example.net"]["confirmed_at"] == ""
    assert all(r["created_at"] and r["updated_at"] for r in rows.values())
    assert not any(t in done.stdout for t in tokens)
    assert "token" not in done.stdout


def test_the_whole_list_as_json_to_a_file(tmp_path: Path) -> None:
    path, tokens = _list(tmp_path)
    out = tmp_path / "list.json"
    done = digest(path, "subscribers", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    rows = {r["email"]: r for r in json.loads(text)}
    assert len(rows) == 6
    assert rows["bounced@example.net"]["status"] == "bounced"
    assert rows["soft@example.net"]["soft_bounces"] == 1
    assert rows["active@example.net"]["extra"] == {"city": "Lyon"}
    assert rows["new@example.net"]["status"] == "pending"
    assert rows["new@example.net"]["confirmed_at"] is None
    assert set(rows["conf@example.net"]) == {"email", "name", "status", "created_at",
        "updated_at", "confirmed_at", "soft_bounces", "extra"}  # fmt: skip
    assert not any(t in text for t in tokens)


def test_one_address_still_exports_as_json_and_csv_for_one_is_refused(tmp_path: Path) -> None:
    path, _ = _list(tmp_path)
    done = digest(path, "subscribers", "export", "soft@example.net")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["subscriber"]["soft_bounces"] == 1
    assert [e["kind"] for e in found["events"]] == ["soft-bounce"]
    refused = digest(path, "subscribers", "export", "soft@example.net", "--format", "csv")
    assert_one_line_error(refused, "--format csv is for the whole list")


def test_list_and_history_end_with_a_count_of_each_status(tmp_path: Path) -> None:
    path, _ = _list(tmp_path)
    line = "subscribers: 3 active, 1 pending, 1 bounced, 0 complained, 1 unsubscribed"
    for command in (["subscribers", "list"], ["history"]):
        done = digest(path, *command)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == line
