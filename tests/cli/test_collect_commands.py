"""`digest check` and `digest sources`, run as real processes on temporary configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from support.http import serving

from digest.state import db

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "reviews"

BODY = """\
Overview: A chamber piece about two rival piano tuners. Lanternfly; 2026; PG; 91 min.

Out of Tune: Sly, quick and warmly played.

Overall: A delight.

Rating: {grade}

Featured Image: Lanternfly
"""


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # conftest has already removed any DIGEST_CONFIG of the developer's from os.environ.
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_config(tmp_path: Path, sources: str, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "newsletter:\n"
        "  title: Test Digest\n"
        '  from: "Test <news@example.org>"\n'
        "  base_url: https://example.org\n"
        "  timezone: Europe/Berlin\n"
        f"sources:\n{sources}{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "piano-men.txt").write_text(
        "Title: Piano Men\n"
        "Author: Rae Critic\n"
        "Link: https://reel.example.org/reviews/piano-men/\n"
        "Image: https://reel.example.org/images/piano-men.jpg\n"
        "Image Alt: Two pianos facing each other\n\n" + BODY.format(grade="A-"),
        encoding="utf-8",
    )
    (folder / "no-picture.txt").write_text(BODY.format(grade="3/5"), encoding="utf-8")
    (folder / "old-news.txt").write_text(
        "Date: 2026-01-05\n\n" + BODY.format(grade="C"), encoding="utf-8"
    )
    (folder / "notes.txt").write_text("nothing labelled here\n", encoding="utf-8")
    (folder / "markup.txt").write_text(
        "Title: [bold red]Loud[/bold red] Title\n\n" + BODY.format(grade="F"), "utf-8"
    )
    return folder


def test_sources_json_has_every_field(tmp_path: Path, reviews: Path) -> None:
    write_config(tmp_path, "  - {type: folder, path: reviews, name: my folder}\n")
    result = run("sources", "--json", cwd=tmp_path)  # ./config.yaml is the default
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["reviews"]
    by_title = {item["title"]: item for item in items}
    assert set(by_title) == {"Piano Men", "No Picture", "[bold red]Loud[/bold red] Title"}
    piano = by_title["Piano Men"]
    assert set(piano) >= {
        "id", "title", "url", "published", "author", "overview", "facts", "sections",
        "verdict", "grade", "image", "source",
    }  # fmt: skip
    assert len(piano["id"]) == 16
    assert piano["url"] == "https://reel.example.org/reviews/piano-men/"
    assert piano["published"].endswith(("+00:00", "+01:00"))
    assert piano["author"] == "Rae Critic"
    assert piano["overview"] == "A chamber piece about two rival piano tuners."
    assert piano["facts"] == {
        "raw": "Lanternfly; 2026; PG; 91 min.",
        "network": "Lanternfly",
        "year": 2026,
        "certificate": "PG",
        "runtime": "91 min",
    }
    assert piano["sections"] == [
        {"heading": "Out of Tune", "text": "Sly, quick and warmly played."}
    ]
    assert piano["verdict"] == "A delight."
    assert (piano["grade"], piano["grade_raw"]) == ("A-", "A-")
    assert piano["image"] == {
        "url": "https://reel.example.org/images/piano-men.jpg",
        "alt": "Two pianos facing each other",
        "credit": "Lanternfly",
    }
    assert piano["source"] == "my folder"
    bare = by_title["No Picture"]
    assert (bare["grade"], bare["grade_raw"], bare["image"], bare["url"]) == (
        "B-",
        "3/5",
        None,
        None,
    )
    # The unreadable file is reported on stderr, so stdout stays valid JSON for scripts.
    assert "notes.txt: no Overview:, Rating: or sections found" in result.stderr


def test_sources_table_shows_selected_and_left_out(tmp_path: Path, reviews: Path) -> None:
    config = write_config(tmp_path, "  - {type: folder, path: reviews, name: my folder}\n")
    result = run("--config", str(config), "sources", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Piano Men" in out and "A-" in out and "No Picture" in out and "B-" in out
    assert "[bold red]Loud[/bold red] Title" in out  # printed as written, never as terminal markup
    assert "Left out" in out
    assert "Old News" in out and "outside the period (published 2026-01-05" in out
    assert "notes.txt: no Overview:, Rating: or sections found" in out
    assert "Traceback" not in out + result.stderr


def test_since_and_until_choose_the_period(tmp_path: Path, reviews: Path) -> None:
    write_config(tmp_path, "  - {type: folder, path: reviews}\n")
    result = run(
        "sources", "--json", "--since", "2026-01-01", "--until", "2026-01-31", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert [item["title"] for item in json.loads(result.stdout)["reviews"]] == ["Old News"]
    bad = run("sources", "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode != 0
    assert "'yesterday' is not a date like 2026-11-18" in bad.stderr


def test_sources_leaves_out_reviews_sent_in_an_earlier_issue(tmp_path: Path, reviews: Path) -> None:
    write_config(tmp_path, "  - {type: folder, path: reviews}\n")
    first = json.loads(run("sources", "--json", cwd=tmp_path).stdout)["reviews"]
    piano = next(item for item in first if item["title"] == "Piano Men")
    # What the delivery stage records when an issue goes out: the issue and its reviews.
    conn = db.connect(tmp_path / "state" / "digest.sqlite3")
    conn.execute(
        "INSERT INTO issues (id, period_start, period_end, status, created_at)"
        " VALUES ('2026-W01', '2026-01-01', '2026-01-08', 'done', '2026-01-08')"
    )
    conn.execute(
        "INSERT INTO issue_reviews (review_id, issue_id, title) VALUES (?, '2026-W01', ?)",
        (piano["id"], piano["title"]),
    )
    conn.close()

    again = run("sources", "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    titles = [item["title"] for item in json.loads(again.stdout)["reviews"]]
    assert "Piano Men" not in titles and "No Picture" in titles
    table = run("sources", cwd=tmp_path).stdout
    assert "already sent in an earlier issue" in table


def rss(link: str, published: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Reel</title><link>https://reel.example.org/</link>
<item><title>Piano Men</title><link>{link}</link><guid>{link}</guid>
<pubDate>{published}</pubDate>
<description>&lt;p&gt;&lt;strong&gt;Overview:&lt;/strong&gt; Two tuners.&lt;/p&gt;</description>
</item></channel></rss>"""


def test_sources_with_a_broken_feed_and_a_duplicate(tmp_path: Path, reviews: Path) -> None:
    now = format_datetime(datetime.now(UTC))
    with serving() as server:
        server.route(
            "/feed.xml",
            rss("http://reel.example.org/reviews/piano-men/?utm_source=rss", now),
            headers={"Content-Type": "application/rss+xml"},
        )
        server.route("/broken.xml", "<html><body>Oops</body></html>", status=200)
        write_config(
            tmp_path,
            "  - {type: folder, path: reviews, name: folder}\n"
            f"  - {{type: feed, url: '{server.url('/feed.xml')}', allow_private: true,"
            " name: good feed}\n"
            f"  - {{type: feed, url: '{server.url('/broken.xml')}', allow_private: true,"
            " name: broken feed}\n",
        )
        result = run("sources", cwd=tmp_path)
        listed = run("sources", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "duplicate of “Piano Men” from folder" in result.stdout  # the richer copy wins
    assert "broken feed" in result.stdout
    titles = [item["title"] for item in json.loads(listed.stdout)["reviews"]]
    assert titles.count("Piano Men") == 1 and "No Picture" in titles
    assert "problem: broken feed:" in listed.stderr


def test_check_reports_each_source(tmp_path: Path, reviews: Path) -> None:
    config = write_config(
        tmp_path,
        "  - {type: folder, path: reviews, name: good folder}\n"
        "  - {type: folder, path: missing, name: gone folder}\n",
    )
    result = run("--config", str(config), "check", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout
    lines = result.stdout.splitlines()
    good = next(line for line in lines if "good folder" in line)
    gone = next(line for line in lines if "gone folder" in line)
    # Four readable reviews: three in this period, the old one outside it; one unreadable file.
    assert [cell.strip() for cell in good.split("│")[3:7]] == ["ok", "3", "1", "1"]
    assert "failed (below)" in gone
    # The whole message follows the table on one line, its path never cut.
    missing = tmp_path / "missing"
    wanted = f"gone folder: folder {missing} does not exist; create it or fix the path"
    assert any(line.startswith(wanted) for line in lines), result.stdout


def test_check_fails_when_every_source_fails(tmp_path: Path) -> None:
    write_config(tmp_path, "  - {type: folder, path: missing}\n")
    result = run("check", cwd=tmp_path)
    assert result.returncode == 1
    assert "every source failed" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_config_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  - {type: folder, path: x}\n", "selection: {order: best}\n")
    for command in ("check", "sources"):
        result = run("--config", str(config), command, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: {config}:8: selection.order:")
        assert "'newest' or 'grade'" in line


def test_a_missing_config_file(tmp_path: Path) -> None:
    result = run("check", cwd=tmp_path)
    assert result.returncode == 1
    assert "config.yaml: no such file; pass --config PATH, set DIGEST_CONFIG" in result.stderr


def test_the_config_comes_from_digest_config(tmp_path: Path, reviews: Path) -> None:
    config = write_config(tmp_path, "  - {type: folder, path: reviews, name: from env}\n")
    result = run("check", cwd=ROOT, env={"DIGEST_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "from env" in result.stdout


def test_check_names_a_missing_password_variable(tmp_path: Path, reviews: Path) -> None:
    config = write_config(
        tmp_path,
        "  - {type: folder, path: reviews}\n",
        "smtp: {host: mail.example.org, username: me, password_env: DIGEST_TEST_PASSWORD}\n",
    )
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_TEST_PASSWORD"}
    result = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "smtp.password_env: environment variable DIGEST_TEST_PASSWORD is not set" in (
        result.stderr.replace("\n", " ")
    )
    ok = run("--config", str(config), "check", cwd=tmp_path, env={"DIGEST_TEST_PASSWORD": "pw"})
    assert ok.returncode == 0, ok.stderr


def test_the_bundled_config_lists_the_samples_with_grades(tmp_path: Path) -> None:
    # A copy made now has fresh modification times, like a fresh clone of the repository.
    shutil.copytree(SAMPLES, tmp_path / "samples" / "reviews")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    result = run("sources", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["reviews"]
    assert len(items) >= 10
    grades = {item["grade"] for item in items}
    assert {"A+", "A", "B", "C", "D", "F", None} <= grades
    assert all(item["overview"] and item["facts"] for item in items)
    assert result.stderr == ""  # no problems with any sample

    table = run("sources", cwd=tmp_path)
    assert table.returncode == 0
    assert "The Understudy" in table.stdout and "A+" in table.stdout
    assert "Summer of Static" in table.stdout


def test_the_console_script(tmp_path: Path, reviews: Path) -> None:
    script = Path(sys.executable).parent / "digest"
    if not script.exists():
        pytest.skip("the digest console script is not installed in this environment")
    config = write_config(tmp_path, "  - {type: folder, path: reviews}\n")
    result = subprocess.run(
        [str(script), "--config", str(config), "sources", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert "--since" in result.stdout and "--json" in result.stdout
