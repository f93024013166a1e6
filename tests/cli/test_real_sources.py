"""`digest sources --json` and `digest check` over the real-site fixtures, as an operator runs them.

Every entry of every fixture is accounted for — selected, or in ``left_out`` with its reason
(and, for a fold, the copy it folded into) — and a WordPress site whose posts are all older
than the period never reads as a bare "ok, 0".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.http import ScriptedServer, serving, write_config
from support.wpsite import serve_site

from digest.collect.images import ImageOffer, unwanted

FIXTURES = Path(__file__).resolve().parents[1] / "collect" / "fixtures"
FEEDS = {"star-blog.xml": 4, "letterboxd.xml": 2, "tracking.atom": 3, "diary.json": 3}
WORDPRESS_POSTS = 4


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        for name in FEEDS:
            s.route(f"/{name}", (FIXTURES / name).read_bytes())
        serve_site(s)
        yield s


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "200"},  # one table row per line
    )  # fmt: skip


def test_sources_json_accounts_for_every_entry(server: ScriptedServer, tmp_path: Path) -> None:
    sources: list[dict[str, Any]] = [
        {"type": "feed", "url": server.url(f"/{name}"), "allow_private": True, "name": name}
        for name in FEEDS
    ]
    sources[0]["include"] = {"categories": ["film-reviews"]}
    sources.append({"type": "feed", "url": server.url("/star-blog.xml"), "allow_private": True,
                    "name": "mirror"})  # fmt: skip
    sources.append({"type": "wordpress", "url": server.url("/wp"), "allow_private": True,
                    "name": "wp", "exclude": {"categories": ["news"]}})  # fmt: skip
    config = write_config(tmp_path, sources)

    result = digest(config, "sources", "--json", "--since", "2025-01-01")

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) >= {"period", "reviews", "left_out", "problems"}
    entries = sum(FEEDS.values()) + FEEDS["star-blog.xml"] + WORDPRESS_POSTS
    assert len(out["reviews"]) + len(out["left_out"]) == entries
    for review in out["reviews"]:
        assert review["overview"], review["title"]
        if review["image"]:
            assert not unwanted(ImageOffer(review["image"]["url"])), review["image"]
    left = {(s["title"], s["source"]): s for s in out["left_out"]}
    assert left[("Festival Week: What We Are Watching", "star-blog.xml")]["reason"] == (
        "left out by sources[0].include.categories (film-reviews)"
    )
    assert left[("Box Office Roundup", "wp")]["kind"] == "filtered"
    fold = left[("The Salt Road", "mirror")]
    assert (fold["kind"], fold["reason"]) == (
        "duplicate",
        "duplicate of “The Salt Road” from star-blog.xml",
    )
    assert fold["folded_into"] == {
        "id": next(r["id"] for r in out["reviews"] if r["title"] == "The Salt Road"),
        "title": "The Salt Road",
        "source": "star-blog.xml",
        "url": "https://backrow.example.org/2026/11/the-salt-road/",
    }
    # The two "Festival Diary" posts a year apart are both selected, not folded.
    assert [r["title"] for r in out["reviews"]].count("Festival Diary") == 2
    assert [p["source"] for p in out["problems"]] == ["diary.json"]  # the zone-less date


def test_check_names_a_site_whose_posts_are_all_older(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # The fixture site's newest post is from 24 November 2026; the period is the last 7 days.
    source = {"type": "wordpress", "url": server.url("/wp"), "allow_private": True, "name": "wp"}
    result = digest(write_config(tmp_path, [source]), "check")
    assert result.returncode == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if line.startswith("│ wp ")]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[2] == "ok, but nothing in this period (newest 2026-11-24)"
    assert cells[3:5] == ["0", str(WORDPRESS_POSTS)]
