"""A state file belongs to one newsletter: the first config that uses it; another newsletter's
config sharing the ``state:`` path is refused with one line naming both, and sends nothing."""

from __future__ import annotations

from pathlib import Path

import yaml
from support.cli import assert_one_line_error, digest
from support.smtp import NOW, Sink, add_subscribers, write_config, write_reviews

from digest.config import load_config
from digest.pipeline.run import run_once


def test_a_second_newsletter_sharing_the_state_is_refused_and_sends_nothing(
    tmp_path: Path, sink: Sink
) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
    path = write_config(tmp_path, smtp=smtp, outbox=None)
    config = load_config(path)
    add_subscribers(config, 2)
    write_reviews(tmp_path / "reviews", 2)
    assert run_once(config, now=NOW).sent == 2

    other = yaml.safe_load(path.read_text(encoding="utf-8"))
    other["newsletter"].update(title="Other Cuts", base_url="https://cuts.example.org",
                               **{"from": "Other Cuts <news@cuts.example.org>"})  # fmt: skip
    other_path = tmp_path / "other.yaml"
    other_path.write_text(yaml.safe_dump(other), encoding="utf-8")
    sent = len(sink.received)

    refused = digest(other_path, "run")
    assert_one_line_error(
        refused,
        'state/digest.sqlite3: belongs to "The Test Reel <news@reel.example.org>" '
        '(https://reel.example.org), not to "Other Cuts <news@cuts.example.org>" '
        "(https://cuts.example.org): give this config its own state: path",
    )
    assert len(sink.received) == sent
    # Every other command of that config is refused the same way; the owner carries on.
    assert_one_line_error(digest(other_path, "subscribers", "list"), "belongs to")
    assert digest(path, "subscribers", "list").returncode == 0


def test_a_new_display_name_is_still_the_same_newsletter(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = load_config(path)
    add_subscribers(config, 1)
    assert digest(path, "subscribers", "list").returncode == 0
    renamed = yaml.safe_load(path.read_text(encoding="utf-8"))
    renamed["newsletter"]["from"] = "The Reel Renamed <NEWS@reel.example.org>"
    path.write_text(yaml.safe_dump(renamed), encoding="utf-8")
    done = digest(path, "subscribers", "list")
    assert done.returncode == 0, done.stderr
