"""Feeds in every encoding feedparser reads: read whole, and entity checks that no encoding dodges.

Each document is this file's own text, encoded here, served by the loopback test server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.feeds import NOW, client_for, rss, rss_item, settings_for
from support.http import ScriptedServer, serving, write_config

from digest.collect.base import SourceResult
from digest.collect.feed import FeedSource
from digest.errors import SourceError


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


def collect(tmp_path: Path, url: str) -> SourceResult:
    source = {"type": "feed", "url": url, "allow_private": True, "name": "reviews"}
    settings = settings_for(write_config(tmp_path, [source]))
    with client_for(settings) as client:
        feed = FeedSource(settings.sources[0], settings=settings, client=client)
        return feed.collect(now=NOW)


#: A review title in each script, and the encoding a site in that language might still use.
TITLES = {
    "big5": "港灣燈火：一部關於沉默的劇集",
    "shift_jis": "港の灯り：沈黙についてのドラマ",
    "euc-kr": "항구의 불빛: 침묵에 관한 드라마",
    "gb2312": "港湾灯火：一部关于沉默的剧集",
    "windows-1252": "Café Noir – “Señor Ángel” returns",
    "utf-16": "Harbour Lights, in UTF-16 with a BOM",
    "utf-16-le": "Harbour Lights, in UTF-16 LE without a BOM",
    "utf-16-be": "Harbour Lights, in UTF-16 BE without a BOM",
    "utf-32": "Harbour Lights, in UTF-32",
}


@pytest.mark.parametrize("encoding", list(TITLES))
def test_every_encoding_feedparser_reads_is_read(
    server: ScriptedServer, tmp_path: Path, encoding: str
) -> None:
    declared = encoding.removesuffix("-le").removesuffix("-be")
    body = rss(rss_item(title=TITLES[encoding]), encoding=declared).encode(encoding)
    server.route("/feed", body, headers={"Content-Type": "application/rss+xml"})
    result = collect(tmp_path, server.url("/feed"))
    assert [r.title for r in result.reviews] == [TITLES[encoding]], result.problems
    assert "Channel 4" in (result.reviews[0].facts.raw if result.reviews[0].facts else "")


#: A stray "%" makes the strict parse fail; feedparser then rewrites the DOCTYPE without it, and
#: its own strict parser expands the entity: 50 references cost 50 × the entity's size.
STRAY_PERCENT = """<?xml version="1.0" encoding="{encoding}"?>
<!DOCTYPE rss [
%
<!ENTITY big "{big}">
]>
<rss version="2.0"><channel><title>Example Reviews</title>
<item><title>{refs}</title><link>https://reviews.example.org/x/</link>
<pubDate>Mon, 23 Nov 2026 09:30:00 +0000</pubDate><description>{refs}</description></item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16"),
        ("utf-16-be", "utf-16"),
        ("utf-32", "utf-32"),
        ("utf-8", "utf-8"),
        ("cp037", "cp037"),  # EBCDIC: no byte pattern for "<!ENTITY" in ASCII matches it
    ],
)
def test_entity_declarations_are_refused_in_every_encoding(
    server: ScriptedServer, tmp_path: Path, encoding: str, declared: str
) -> None:
    text = STRAY_PERCENT.format(encoding=declared, big="Harbour " * 500, refs="&big;" * 50)
    server.route("/evil", text.encode(encoding), headers={"Content-Type": "application/rss+xml"})
    with pytest.raises(SourceError, match="declares XML entities"):
        collect(tmp_path, server.url("/evil"))
