"""Every kind of message we send scores ≤ 0.0 in Debian's SpamAssassin, local rules only.

``spamassassin -L`` (no network tests: no DNS blocklists, no DKIM key look-up) runs on the exact
bytes delivered into the Maildir outbox: the bundled sample run, a 20-review issue with a
picture on every card, the quiet-week note, a ``[TEST]`` copy and a DKIM-signed copy.
``.ci/run`` installs the ``spamassassin`` package.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.dkim_keys import dkim_config, write_keys
from support.issue20 import twenty_reviews
from support.smtp import NOW, add_subscribers, record, write_config

from digest.config import Config, load_config
from digest.period import current_period
from digest.pipeline.dry import send_test_copy
from digest.pipeline.run import run_once
from digest.render.compose import render_digest

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "reviews"
SPAMASSASSIN = shutil.which("spamassassin")
pytestmark = pytest.mark.skipif(
    SPAMASSASSIN is None, reason="spamassassin is not installed (.ci/run installs it)"
)

NEWSLETTER = {
    "title": "The Test Reel",
    "from": "The Test Reel <news@reel.example.org>",
    "reply_to": "editor@reel.example.org",
    "base_url": "https://reel.example.org",
    "timezone": "Europe/Berlin",
    "postal_address": "The Test Reel, Kastanienallee 7, 10435 Berlin, Germany",
}


def _score(message: bytes, home: Path) -> tuple[float, str]:
    assert SPAMASSASSIN is not None
    home.mkdir(exist_ok=True)
    out = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],
        input=message,
        capture_output=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=True,
    ).stdout.decode("utf-8", "replace")
    found = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", out, re.M)
    assert found is not None, out[:2000]
    return float(found.group(1)), out[out.find("Content analysis details") :]


def _config(folder: Path, **extra: Any) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    return load_config(write_config(folder, newsletter=dict(NEWSLETTER), **extra))


def _outbox(config: Config) -> list[bytes]:
    box = mailbox.Maildir(config.outbox, create=False)
    return [box.get_bytes(k) for k in box.iterkeys()]


def _twenty(config: Config) -> bytes:
    """The 20-review issue of the design tests: hero, at a glance, compact cards with
    thumbnails of every shape, bylines and verdicts."""
    reviews = twenty_reviews(lambda slug, w, h: f"https://images.reel.example.org/{slug}.jpg")
    add_subscribers(config, 1)
    record(config, render_digest(config, current_period(config, NOW), reviews, now=NOW))
    assert run_once(config, now=NOW).sent == 1
    return _outbox(config)[0]


def _bundled(folder: Path) -> bytes:
    config = _config(folder)
    for path in SAMPLES.iterdir():  # copied, not copy2: dated now, so in this week's issue
        shutil.copyfile(path, folder / "reviews" / path.name)
    add_subscribers(config, 1)
    result = run_once(config, now=datetime.now(UTC))
    assert result.sent == 1 and result.reviews >= 5
    return _outbox(config)[0]


def _quiet(folder: Path) -> bytes:
    config = _config(folder)
    path = config.path
    path.write_text(
        path.read_text().replace("postal_address:", "quiet_week: true\n  postal_address:")
    )
    config = load_config(path)
    add_subscribers(config, 1)
    assert run_once(config, now=NOW).sent == 1
    return _outbox(config)[0]


def _test_copy(folder: Path) -> bytes:
    config = _config(folder)
    for path in SAMPLES.iterdir():
        shutil.copyfile(path, folder / "reviews" / path.name)
    send_test_copy(config, "editor@reel.example.org", now=datetime.now(UTC))
    return _outbox(config)[0]


def _signed(folder: Path) -> bytes:
    folder.mkdir(parents=True)
    write_keys(folder)
    data = _twenty(_config(folder, dkim=dkim_config()))
    assert data.count(b"DKIM-Signature:") == 2
    return data


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(_bundled, id="bundled-run"),
        pytest.param(lambda f: _twenty(_config(f)), id="twenty-reviews"),
        pytest.param(_quiet, id="quiet-week"),
        pytest.param(_test_copy, id="test-copy"),
        pytest.param(_signed, id="dkim-signed"),
    ],
)
def test_spamassassin_scores_at_most_zero(kind: Any, tmp_path: Path) -> None:
    message = kind(tmp_path / "newsletter")
    score, report = _score(message, tmp_path / "home")
    (tmp_path / "report.txt").write_text(report)
    assert score <= 0.0, report
    # Not only the total: no rule may add points (the list headers' MAILING_LIST_MULTI, -1.0,
    # must not be what hides a problem such as HTML_FONT_LOW_CONTRAST, +0.7).
    positive = re.findall(r"^\s*(\d+\.\d+)\s+([A-Z0-9_]+)", report, re.M)
    assert [rule for points, rule in positive if float(points) > 0] == [], report
