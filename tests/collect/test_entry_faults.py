"""One hostile entry or file is skipped alone: an impossible date, a malformed link, a
front-matter date no calendar has (regressions from an adversarial review, via the real CLI)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.cli import digest
from support.http import ScriptedServer, write_config
from support.render_reviews import CONFIG_YAML, write_review_files

# ---------------------------------------------------------------------------------------------
# A feed entry with an impossible date or a malformed link must not take the run down
# ---------------------------------------------------------------------------------------------


def test_hostile_dates_and_links_in_one_entry_never_sink_the_feed(
    server: ScriptedServer, tmp_path: Path
) -> None:
    recent = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = "<p>Overview: A fine film. Meridian; 2026; 15; 104 min.</p><p>Rating: B</p>"
    items = [
        {"id": "good", "title": "Good One", "url": "https://r.example.org/good",
         "content_html": body, "date_published": recent},
        # year 1: moving it into the newsletter's timezone overflowed (OverflowError)
        {"id": "ancient", "title": "Ancient", "url": "https://r.example.org/ancient",
         "content_html": body, "date_published": "0001-01-01T00:00:00Z"},
        # an unbalanced IPv6 bracket: urlsplit raised ValueError and the whole feed was lost
        {"id": "bracket", "title": "Bracket Link", "url": "https://[::1/bracket",
         "content_html": body, "date_published": recent,
         "image": "https://[::1/poster.jpg"},
    ]  # fmt: skip
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    server.route("/feed.json", json.dumps(feed), headers={"Content-Type": "application/json"})
    source = {"type": "feed", "url": server.url("/feed.json"), "allow_private": True}
    config = write_config(tmp_path, [source])

    result = digest(config, "sources", "--json")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    titles = {r["title"]: r for r in json.loads(result.stdout)["reviews"]}
    assert set(titles) == {"Good One", "Bracket Link"}
    assert titles["Bracket Link"]["url"] is None
    assert "unexpected error" not in result.stderr
    assert "0001-01-01" in result.stderr  # the ancient entry is reported, not silently lost


# ---------------------------------------------------------------------------------------------
# One Markdown file with an impossible front-matter date must not sink the folder
# ---------------------------------------------------------------------------------------------


def test_an_impossible_front_matter_date_skips_only_that_file(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    (tmp_path / "reviews" / "leap.md").write_text(
        "---\ntitle: Not A Leap Year\ndate: 2026-02-30\n---\n\nOverview: Fine words.\n\n"
        "Rating: B\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")

    result = digest(config, "sources", "--json", "--since", "2026-01-01")

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["reviews"]) == 6  # the six good files are all still there
    assert "leap.md: the front matter has a value YAML can't read" in result.stderr
    assert "unexpected error" not in result.stderr
