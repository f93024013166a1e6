"""Regression tests for bugs found in an adversarial review: each drives the real CLI as a
subprocess (so a traceback is seen exactly as an operator would see it) against real files and
a real loopback HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import support.smtp as smtp_support
from support.http import ScriptedServer, serving, write_config
from support.render_reviews import CONFIG_YAML, write_review_files

from digest.config import load_config
from digest.deliver import SmtpTransport
from digest.pipeline.run import run_once
from digest.state import db


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for part in expected:
        assert part in errors[0]


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
# An operator's own template failing in plain Python: one line, exit 1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"{{ 1 / 0 }}", "ZeroDivisionError"),
        (b'{{ "a" + 1 }}', "TypeError"),
        (b"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
        (b"\xff\xfe{{ title }}", "UnicodeDecodeError"),
    ],
)
def test_a_broken_own_template_is_one_line_not_a_traceback(
    tmp_path: Path, source: bytes, expected: str
) -> None:
    write_review_files(tmp_path / "reviews")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.mjml.j2").write_bytes(source)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML + "templates: mine/\n", encoding="utf-8")

    result = digest(config, "build", "--out", str(tmp_path / "out"), "--since", "2026-01-01")

    assert_one_line_error(result, "digest.mjml.j2", expected)


def test_a_subject_template_failing_in_python_is_one_line(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(
        CONFIG_YAML.replace(
            "  base_url: https://nightshift.example.org\n",
            '  base_url: https://nightshift.example.org\n  subject: "{{ 1 / 0 }}"\n',
        ),
        encoding="utf-8",
    )

    result = digest(config, "build", "--out", str(tmp_path / "out"), "--since", "2026-01-01")

    assert_one_line_error(result, "newsletter.subject", "ZeroDivisionError")


# ---------------------------------------------------------------------------------------------
# A review left out of one issue (over max_reviews, trimmed for size) goes out in the next
# ---------------------------------------------------------------------------------------------


def test_a_review_over_max_reviews_goes_out_in_the_next_issue(tmp_path: Path) -> None:
    config = load_config(
        smtp_support.write_config(tmp_path, selection={"days": 7, "max_reviews": 2})
    )
    smtp_support.write_reviews(tmp_path / "reviews", 3)
    smtp_support.add_subscribers(config, 1)

    first = run_once(config, now=smtp_support.NOW)
    second = run_once(config, now=smtp_support.NOW + timedelta(days=7))

    assert (first.outcome, first.reviews) == ("sent", 2)
    assert (second.outcome, second.reviews) == ("sent", 1)
    conn = db.connect(config.state)
    try:
        carried = conn.execute("SELECT issue_id, count(*) FROM issue_reviews GROUP BY issue_id")
        assert sorted(tuple(r) for r in carried) == [("2026-W48", 2), ("2026-W49", 1)]
    finally:
        conn.close()


def test_a_manual_run_early_in_the_week_leaves_no_gap_before_the_next_issue(
    tmp_path: Path,
) -> None:
    # A manual `digest run` on Tuesday keys the week; the scheduled Friday run then finds it
    # already sent, and the next Friday's seven days must still reach back to Tuesday.
    config = load_config(smtp_support.write_config(tmp_path))
    smtp_support.add_subscribers(config, 1)
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=smtp_support.NOW.tzinfo)
    smtp_support.write_reviews(tmp_path / "reviews", 1, published=tuesday - timedelta(days=1))
    assert run_once(config, now=tuesday).outcome == "sent"
    wednesday = tuesday + timedelta(days=1)
    (tmp_path / "reviews" / "late.txt").write_text(
        f"Title: Published On Wednesday\nDate: {wednesday.isoformat()}\n\n"
        "Overview: A quiet film about a loud week. Tideline; 2026; 12A; 95 min.\n\nRating: B\n",
        encoding="utf-8",
    )

    next_friday = datetime(2026, 12, 4, 8, 0, tzinfo=smtp_support.NOW.tzinfo)
    result = run_once(config, now=next_friday)

    assert (result.outcome, result.reviews) == ("sent", 1)


# ---------------------------------------------------------------------------------------------
# A garbled or over-long SMTP reply after the final "." — the server has the whole message
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["hello, this is not an SMTP reply", "250 " + "x" * 9000],
    ids=["garbled", "too-long"],
)
def test_an_unreadable_reply_after_the_final_dot_is_unknown_not_resent(
    tmp_path: Path, answer: str
) -> None:
    with smtp_support.ScriptedServer(smtp_support.Script(bodies=[answer])) as server:
        config = load_config(
            smtp_support.write_config(
                tmp_path,
                smtp={
                    "host": "127.0.0.1",
                    "port": server.port,
                    "security": "none",
                    "connections": 1,
                    "rate": 0,
                    "timeout": 5,
                    "retries": 2,
                },
            )
        )
        smtp_support.add_subscribers(config, 1)
        smtp_support.record(config, smtp_support.rendered_digest(config))
        assert config.smtp is not None
        transport = SmtpTransport(config.smtp, backoff_base=0.01)

        result = run_once(config, now=smtp_support.NOW, transport=transport)

        assert result.unknown == 1
        assert server.transcript.commands.count("DATA") == 1  # never sent a second time
    states = smtp_support.delivery_states(config, "2026-W48")
    assert [s for s, _ in states.values()] == ["unknown"]


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


# ---------------------------------------------------------------------------------------------
# A from / reply_to that passes parseaddr but can't be written into a header
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply_to", "expected"),
    [
        ('"=?utf-8?q?=0D=0ABcc:_x@y.example?= <editor@example.org>"', "can't be written"),
        ('"Editor <editor@exämple.org>"', "xn--"),
    ],
    ids=["encoded-line-break", "non-ascii-domain"],
)
def test_a_reply_to_that_cannot_become_a_header_is_a_config_error(
    tmp_path: Path, reply_to: str, expected: str
) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(
        CONFIG_YAML.replace(
            '  reply_to: "editor@nightshift.example.org"\n', f"  reply_to: {reply_to}\n"
        ),
        encoding="utf-8",
    )
    assert "reply_to: " + reply_to in config.read_text(encoding="utf-8")

    result = digest(config, "build", "--out", str(tmp_path / "out"))

    assert_one_line_error(result, "config.yaml:", "newsletter.reply_to", expected)


# ---------------------------------------------------------------------------------------------
# `digest build --out` somewhere it can't write
# ---------------------------------------------------------------------------------------------


def test_build_into_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")

    # click refuses --out naming a file; a folder *under* a file can't be made at all
    result = digest(config, "build", "--out", str(blocker / "out"))

    assert_one_line_error(result, "can't write the build output", "--out")
