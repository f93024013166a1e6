"""The one config builder of the test suite: a ``config.yaml`` written into a test's folder.

Every helper that needs a config (network sources, delivery, scheduling, web, rendering) starts
from ``BASE`` and overrides sections, so a new required key is added here once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from digest.config import Config, load_config

#: The newsletter every test config belongs to unless it says otherwise.
NEWSLETTER: dict[str, Any] = {
    "title": "The Test Reel",
    "from": "The Test Reel <news@reel.example.org>",
    "base_url": "https://reel.example.org",
    "timezone": "Europe/Berlin",
}

BASE: dict[str, Any] = {
    "newsletter": NEWSLETTER,
    "sources": [{"type": "folder", "path": "reviews", "name": "test reviews"}],
    "state": "state/digest.sqlite3",
    "outbox": "outbox",
}


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; a mapping merges one level deep (``newsletter``)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def write_config_file(folder: Path, **sections: Any) -> Path:
    """Write ``BASE`` with ``sections`` overriding it to ``folder/config.yaml``; a section set
    to ``None`` is left out. Creates ``folder/reviews/`` for the default folder source."""
    data = {k: v for k, v in merged(BASE, sections).items() if v is not None}
    (folder / "reviews").mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def build_config(folder: Path, **sections: Any) -> Config:
    """``write_config_file`` and load it: the validated ``Config`` a test runs with."""
    return load_config(write_config_file(folder, **sections))


REVIEW = """\
Overview: Two rival piano tuners share one village. Lanternfly; 2026; PG; 91 min.

Overall: A delight.

Rating: {grade}
"""


def add_review(folder: Path, name: str, grade: str = "A-") -> None:
    """``folder/reviews/NAME.txt``: a review with no Date: line, so it is dated now (its
    file's modification time) unless ``name`` starts with a date."""
    (folder / "reviews" / f"{name}.txt").write_text(REVIEW.format(grade=grade), "utf-8")
