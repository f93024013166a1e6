"""Review fixtures for the render tests: original text, fixed dates, a non-UTC newsletter zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from digest.config import Config
from digest.models import Facts, Grade, Image, Period, Review
from support.clock import NOW
from support.config import build_config

CONFIG_YAML = """
newsletter:
  title: The Night Shift
  from: "The Night Shift <letters@nightshift.example.org>"
  reply_to: "editor@nightshift.example.org"
  base_url: https://nightshift.example.org
  timezone: Europe/Berlin
  postal_address: "The Night Shift, Kastanienallee 7, 10435 Berlin, Germany"
sources:
  - {type: folder, path: reviews/}
"""

_ENTRIES = [
    (
        "Salt Flats",
        "A surveyor stranded at a desert motel slowly realises the other guests are all "
        "waiting for the same bus, which never comes.",
        "Meridian; 2026; 15; 104 min.",
        "B+",
        "Meridian Pictures",
    ),
    (
        "The Lantern Keepers",
        "Three sisters inherit a lighthouse on a failing island and a ledger of debts their "
        "father never mentioned.",
        "Harbour TV; 2026; TV-14; eight episodes.",
        "A",
        "Harbour TV",
    ),
    (
        "Quiet Arithmetic",
        "A retired maths teacher tutors a teenage card counter and finds her own rules bending.",
        "Northlight; 2025; PG-13; 97 min.",
        "C+",
        "Northlight Films",
    ),
    (
        "Paper Moons",
        "An animated fable about a moon made of folded letters that unfolds one memory a night.",
        "Studio Kite; 2026; U; 88 min.",
        "A-",
        "Studio Kite",
    ),
    (
        "Overtime",
        "A workplace comedy about an office that keeps running after everyone has gone home.",
        "Channel Nine; 2026; TV-PG; ten episodes.",
        "D",
        "Channel Nine",
    ),
    (
        "Ash Season",
        "A firefighting drama that mistakes noise for tension across a long, smoky summer.",
        "Ridgeway; 2026; R; 131 min.",
        "F",
        "Ridgeway Releasing",
    ),
]


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "untitled"


def make_review(
    title: str,
    overview: str = "A short summary.",
    facts: str = "Network; 2026; PG; 90 min.",
    grade: str | None = "B",
    credit: str = "Studio",
    *,
    published: datetime | None = None,
    link: str | None = "",
    image_url: str | None = "",
) -> Review:
    s = slug(title)
    return Review(
        title=title,
        published=published or NOW - timedelta(days=2),
        source="fixtures",
        key=s,
        link=f"https://nightshift.example.org/reviews/{s}/" if link == "" else link,
        author="Mara Quist",
        overview=overview,
        facts=Facts(raw=facts),
        grade=Grade.parse(grade) if grade else None,
        image=None
        if image_url is None
        else Image(
            url=image_url or f"https://images.nightshift.example.org/{s}.jpg",
            alt=f"A still from {title}",
            credit=credit,
            width=1200,
            height=675,
        ),
    )


def sample_reviews() -> tuple[Review, ...]:
    """Six reviews, newest first, one hour apart, covering every grade band."""
    return tuple(
        make_review(*entry, published=NOW - timedelta(days=1, hours=i))
        for i, entry in enumerate(_ENTRIES)
    )


def make_config(folder: Path, extra: str = "") -> Config:
    """The render tests' config in ``folder``; ``extra`` is YAML whose sections override it."""
    sections = {**yaml.safe_load(CONFIG_YAML), **(yaml.safe_load(extra) or {})}
    return build_config(folder, outbox=None, state=None, **sections)


def week_period() -> Period:
    return Period(key="2026-W48", start=NOW - timedelta(days=7), end=NOW)


def write_review_files(folder: Path) -> list[Path]:
    """The six fixture reviews as files in the folder format (no Date: line → file mtime)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for title, overview, facts, grade, credit in _ENTRIES:
        s = slug(title)
        path = folder / f"{s}.txt"
        path.write_text(
            f"Title: {title}\n"
            "Author: Mara Quist\n"
            f"Link: https://nightshift.example.org/reviews/{s}/\n"
            f"Image: https://images.nightshift.example.org/{s}.jpg\n"
            f"Image Alt: A still from {title}\n\n"
            f"Overview: {overview} {facts}\n\n"
            "The Story: A paragraph of the review body that the digest does not show.\n\n"
            "Overall: A verdict in one sentence.\n\n"
            f"Rating: {grade}\n\n"
            f"Featured Image: {credit}\n",
            encoding="utf-8",
        )
        written.append(path)
    return written
