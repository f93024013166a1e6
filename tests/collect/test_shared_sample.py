"""The seed sample still reads exactly as before: as a folder file and inside WordPress HTML.

``../shared/samples/the-confession-tapes.txt`` sits beside the checkout in CI; the tests skip
where it is absent (``DIGEST_SHARED`` names another folder holding ``samples/``).
"""

from __future__ import annotations

import json
import os
import shutil
from html import escape
from pathlib import Path

import pytest
from support.feeds import NOW, settings_for
from support.http import Request, serving, write_config

from digest.collect.collection import collect
from digest.models import Review

SHARED = Path(os.environ.get("DIGEST_SHARED") or Path(__file__).resolve().parents[3] / "shared")
SAMPLE = SHARED / "samples" / "the-confession-tapes.txt"

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason="the shared sample is not here")


def assert_sample(review: Review) -> None:
    assert review.overview.startswith("A seven-part documentary series examines cases")
    assert review.overview.endswith("from all sides of the justice system.")
    assert review.facts is not None
    assert (review.facts.network, review.facts.year) == ("Netflix", 2017)
    assert (review.facts.certificate, review.facts.runtime) == ("Not Rated", "varying runtimes")
    assert [s.heading for s in review.sections] == [
        "Behind Closed Doors",
        "Interrogation Technique",
    ]
    assert [len(s.paragraphs) for s in review.sections] == [2, 2]
    assert review.sections[1].text.endswith("worst-kept secret: Few things are ever certain.")
    assert review.verdict.startswith("By covering all sides of each story")
    assert review.grade is not None and (review.grade.letter, review.grade.raw) == ("A", "A")


def test_as_a_folder_file(tmp_path: Path) -> None:
    (tmp_path / "reviews").mkdir()
    shutil.copy(SAMPLE, tmp_path / "reviews" / "the-confession-tapes.txt")
    settings = settings_for(write_config(tmp_path, [{"type": "folder", "path": "reviews"}]))
    [review] = collect(settings, now=NOW).reviews
    assert review.title == "The Confession Tapes"
    assert_sample(review)


def test_inside_wordpress_html(tmp_path: Path) -> None:
    paragraphs = SAMPLE.read_text(encoding="utf-8").split("\n\n")
    html = "\n".join(f"<p>{escape(p.strip())}</p>" for p in paragraphs if p.strip())
    words = " ".join(SAMPLE.read_text(encoding="utf-8").split()[:55])
    post = {
        "id": 77, "date_gmt": "2026-11-23T09:00:00", "link": "https://wp.example.org/tapes/",
        "title": {"rendered": "The Confession Tapes"},
        "content": {"rendered": html},
        "excerpt": {"rendered": f"<p>{escape(words)} [&hellip;]</p>"},  # WordPress's own
        "_embedded": {"wp:featuredmedia": [{"source_url": "https://wp.example.org/tapes.jpg",
                                            "alt_text": "", "media_details": {}}]},
    }  # fmt: skip

    def answer(request: Request) -> tuple[int, dict[str, str], bytes]:
        posts = [post] if "page" in request.query else []
        headers = {"Content-Type": "application/json", "X-WP-TotalPages": "1"}
        return 200, headers, json.dumps(posts).encode()

    with serving() as server:
        server.route("/wp-json/wp/v2/posts", handler=answer)
        source = {"type": "wordpress", "url": server.base, "allow_private": True}
        [review] = collect(settings_for(write_config(tmp_path, [source])), now=NOW).reviews
    assert_sample(review)
    assert review.image is not None and review.image.credit == "Netflix"
