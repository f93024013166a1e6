"""Feed and WordPress fixtures with original review text, and the checks every format shares.

One review (``HARBOUR``) is served as RSS 2.0, Atom, JSON Feed and a WordPress post; each
test then asserts every field of the ``Review`` it produced with ``assert_harbour``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import httpx

from digest.collect.http import make_client
from digest.config import Config, load_config
from digest.models import Review
from digest.state import db
from support.clock import WEDNESDAY_NOON

#: A fixed "now" in a non-UTC zone on purpose.
NOW = WEDNESDAY_NOON
PUBLISHED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

HARBOUR_TITLE = "Harbour Lights"
HARBOUR_LINK = "https://reviews.example.org/2026/11/harbour-lights/"
HARBOUR_IMAGE = "https://cdn.example.org/images/harbour-lights.jpg"
HARBOUR_ALT = "A lighthouse at dusk above a grey sea"
HARBOUR_AUTHOR = "Morag Ellis"
HARBOUR_OVERVIEW = (
    "A retired lighthouse keeper returns to the island town that blamed him for a shipwreck "
    "thirty years ago."
)
HARBOUR_HTML = f"""
<p><strong>Overview:</strong> {HARBOUR_OVERVIEW} Channel 4; 2025; 15; 6 x 45 min.</p>
<p><strong>Salt and Memory:</strong> The first episode moves at the pace of the tide, which is to
say slowly and then all at once. Every conversation in the harbour caf&eacute; carries the
weight of something nobody will name.</p>
<p>By the third hour the island itself feels like a witness, its cliffs and chapels framed
like testimony.</p>
<p><strong>The Weather Inside:</strong> Later episodes trade mystery for grief, and the lead
performance holds the shift together with very little dialogue.</p>
<p><strong>Overall:</strong> A patient, salt-stung drama that trusts its audience to sit with
silence.</p>
<p><strong>Rating:</strong> B+</p>
<p><strong>Featured Image:</strong> Channel 4</p>
"""


def assert_harbour(
    review: Review,
    *,
    source: str,
    image_url: str = HARBOUR_IMAGE,
    image_alt: str = HARBOUR_ALT,
    author: str = HARBOUR_AUTHOR,
) -> None:
    """Every field of the Harbour Lights review, whatever format it came in."""
    assert review.title == HARBOUR_TITLE
    assert review.link == HARBOUR_LINK
    assert review.published == PUBLISHED
    assert review.published.tzinfo is not None
    assert review.author == author
    assert review.source == source
    assert review.overview == HARBOUR_OVERVIEW
    assert review.facts is not None
    assert review.facts.network == "Channel 4"
    assert review.facts.year == 2025
    assert review.facts.certificate == "15"
    assert review.facts.runtime == "6 x 45 min"
    assert [s.heading for s in review.sections] == ["Salt and Memory", "The Weather Inside"]
    first = review.sections[0].paragraphs
    assert len(first) == 2
    assert first[0].startswith("The first episode moves at the pace of the tide")
    assert "harbour café carries" in first[0]  # an HTML entity decoded, line breaks folded
    assert first[1].endswith("framed like testimony.")
    assert review.sections[1].text.startswith("Later episodes trade mystery for grief")
    assert review.verdict == (
        "A patient, salt-stung drama that trusts its audience to sit with silence."
    )
    assert review.grade is not None
    assert review.grade.letter == "B+"
    assert review.image is not None
    assert review.image.url == image_url
    assert review.image.alt == image_alt
    assert review.image.credit == "Channel 4"


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------


def rss_item(
    *,
    title: str = HARBOUR_TITLE,
    link: str = HARBOUR_LINK,
    guid: str = "harbour-lights-1",
    date: str = "Mon, 23 Nov 2026 09:30:00 +0000",
    html: str = HARBOUR_HTML,
    extra: str = "",
    description: str = "A short teaser that is not the full review.",
) -> str:
    date_tag = f"<pubDate>{date}</pubDate>" if date else ""
    return f"""<item>
  <title>{escape(title)}</title>
  <link>{link}</link>
  <guid isPermaLink="false">{guid}</guid>
  {date_tag}
  <dc:creator>{HARBOUR_AUTHOR}</dc:creator>
  <description>{escape(description)}</description>
  <content:encoded><![CDATA[{html}]]></content:encoded>
  {extra}
</item>"""


def rss(*items: str, encoding: str = "utf-8") -> str:
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Example Reviews</title>
  <link>https://reviews.example.org/</link>
  <description>Film and television reviews</description>
  {"".join(items)}
</channel>
</rss>"""


def harbour_rss() -> str:
    media = (
        f'<media:content url="{HARBOUR_IMAGE}" medium="image" width="1200" height="675">'
        f"<media:description>ignored</media:description></media:content>"
    )
    html = (
        HARBOUR_HTML + f'<p><img src="https://cdn.example.org/other.jpg" alt="{HARBOUR_ALT}"></p>'
    )
    return rss(rss_item(html=html, extra=media))


def harbour_atom() -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example Reviews</title>
  <id>urn:example:reviews</id>
  <updated>2026-11-23T09:30:00Z</updated>
  <entry>
    <title type="text">{HARBOUR_TITLE}</title>
    <id>urn:example:harbour-lights</id>
    <link rel="alternate" type="text/html" href="{HARBOUR_LINK}"/>
    <link rel="enclosure" type="image/jpeg" href="{HARBOUR_IMAGE}" length="1000"/>
    <published>2026-11-23T10:30:00+01:00</published>
    <updated>2026-11-24T08:00:00Z</updated>
    <author><name>{HARBOUR_AUTHOR}</name></author>
    <summary>A short teaser.</summary>
    <content type="html">{escape(HARBOUR_HTML)}</content>
  </entry>
</feed>"""


def harbour_json_feed() -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Example Reviews",
            "items": [
                {
                    "id": "harbour-lights-1",
                    "url": HARBOUR_LINK,
                    "title": HARBOUR_TITLE,
                    "content_html": HARBOUR_HTML
                    + f'<p><img src="{HARBOUR_IMAGE}" alt="{HARBOUR_ALT}"></p>',
                    "date_published": "2026-11-23T09:30:00Z",
                    "authors": [{"name": HARBOUR_AUTHOR}],
                }
            ],
        }
    )


def wp_post(
    ident: int, *, title: str, link: str, date_gmt: str, html: str, image: str | None = None
) -> dict[str, Any]:
    embedded: dict[str, Any] = {"author": [{"id": 3, "name": HARBOUR_AUTHOR}]}
    if image:
        embedded["wp:featuredmedia"] = [
            {
                "id": 900 + ident,
                "source_url": image,
                "alt_text": HARBOUR_ALT,
                "media_details": {"width": 1200, "height": 675},
            }
        ]
    return {
        "id": ident,
        "date": date_gmt,
        "date_gmt": date_gmt,
        "link": link,
        "title": {"rendered": title},  # already HTML, as WordPress renders it
        "content": {"rendered": html, "protected": False},
        "excerpt": {"rendered": "<p>Teaser</p>"},
        "_embedded": embedded,
    }


# ---------------------------------------------------------------------------------------------
# Running a source against the test server
# ---------------------------------------------------------------------------------------------


def settings_for(config_path: Path) -> Config:
    return load_config(config_path)


def client_for(settings: Config) -> httpx.Client:
    return make_client(settings.http)


def state_for(settings: Config) -> sqlite3.Connection:
    return db.connect(settings.state)
