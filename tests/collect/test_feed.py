"""The feed source (RSS 2.0, Atom, JSON Feed) against a real loopback server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.feeds import (
    HARBOUR_ALT,
    HARBOUR_HTML,
    HARBOUR_IMAGE,
    HARBOUR_LINK,
    HARBOUR_TITLE,
    NOW,
    PUBLISHED,
    assert_harbour,
    client_for,
    harbour_atom,
    harbour_json_feed,
    harbour_rss,
    rss,
    rss_item,
    settings_for,
    state_for,
)
from support.http import ScriptedServer, write_config

from digest.collect.base import SourceResult
from digest.collect.feed import FeedSource
from digest.errors import FetchError, SourceError
from digest.models import Review

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def collect(
    tmp_path: Path,
    url: str,
    *,
    allow_private: bool = True,
    http: dict[str, Any] | None = None,
    state: bool = False,
) -> SourceResult:
    source = {"type": "feed", "url": url, "allow_private": allow_private, "name": "reviews"}
    settings = settings_for(write_config(tmp_path, [source], http=http))
    conn = state_for(settings) if state else None
    try:
        with client_for(settings) as client:
            feed = FeedSource(settings.sources[0], settings=settings, client=client, conn=conn)
            return feed.collect(now=NOW)
    finally:
        if conn is not None:
            conn.close()


def only(result: SourceResult) -> Review:
    assert len(result.reviews) == 1, result.problems
    return result.reviews[0]


# ---------------------------------------------------------------------------------------------
# Every field, in every format
# ---------------------------------------------------------------------------------------------


def test_rss_every_field(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/feed.xml", harbour_rss(), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/feed.xml"))
    review = only(result)
    # media:content comes before the first image in the content; it has no alt, so the title.
    assert_harbour(review, source="reviews", image_alt=HARBOUR_TITLE)
    assert review.image is not None
    assert (review.image.width, review.image.height) == (1200, 675)
    assert result.problems == ()


def test_atom_every_field(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/atom", harbour_atom(), headers={"Content-Type": "application/atom+xml"})
    review = only(collect(tmp_path, server.url("/atom")))
    # The image is the enclosure link; published (10:30+01:00) wins over updated.
    assert_harbour(review, source="reviews", image_alt=HARBOUR_TITLE)


def test_json_feed_every_field(server: ScriptedServer, tmp_path: Path) -> None:
    server.route(
        "/feed.json", harbour_json_feed(), headers={"Content-Type": "application/feed+json"}
    )
    review = only(collect(tmp_path, server.url("/feed.json")))
    # No image field: the first image in the content, with its own alt text.
    assert_harbour(review, source="reviews", image_alt=HARBOUR_ALT)


def test_json_feed_recognised_by_its_brace_without_a_content_type(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.route("/feed", harbour_json_feed(), headers={"Content-Type": "text/plain"})
    assert only(collect(tmp_path, server.url("/feed"))).title == HARBOUR_TITLE


def test_rss_thumbnail_and_enclosure_are_image_fallbacks(
    server: ScriptedServer, tmp_path: Path
) -> None:
    thumb = f'<media:thumbnail url="{HARBOUR_IMAGE}?thumb" width="300" height="200"/>'
    enclosure = '<enclosure url="https://cdn.example.org/trailer.mp4" type="video/mp4" length="1"/>'
    server.route("/f", rss(rss_item(extra=thumb + enclosure)), headers=RSS_TYPE)
    review = only(collect(tmp_path, server.url("/f")))
    assert review.image is not None
    assert review.image.url == HARBOUR_IMAGE + "?thumb"  # the video enclosure is not an image


def test_relative_content_image_is_resolved_against_the_entry_link(
    server: ScriptedServer, tmp_path: Path
) -> None:
    html = HARBOUR_HTML + '<p><img src="../../img/harbour.jpg" alt="Quay"></p>'
    server.route("/f", rss(rss_item(html=html)), headers=RSS_TYPE)
    review = only(collect(tmp_path, server.url("/f")))
    assert review.image is not None
    assert review.image.url == "https://reviews.example.org/2026/img/harbour.jpg"
    assert review.image.alt == "Quay"


# ---------------------------------------------------------------------------------------------
# Conditional GET between runs
# ---------------------------------------------------------------------------------------------


def test_conditional_get_remembered_between_runs(server: ScriptedServer, tmp_path: Path) -> None:
    stamp = "Mon, 23 Nov 2026 09:30:00 GMT"
    server.route("/feed.xml", harbour_rss(), headers=RSS_TYPE, etag='"abc"', last_modified=stamp)
    first = collect(tmp_path, server.url("/feed.xml"), state=True)
    second = collect(tmp_path, server.url("/feed.xml"), state=True)
    sent = server.requests[1].headers
    assert sent["If-None-Match"] == '"abc"'
    assert sent["If-Modified-Since"] == stamp
    # The 304 carried no body: the review came from the remembered copy.
    assert [r.id for r in second.reviews] == [r.id for r in first.reviews]
    assert_harbour(only(second), source="reviews", image_alt=HARBOUR_TITLE)


# ---------------------------------------------------------------------------------------------
# Broken feeds: each a clear outcome
# ---------------------------------------------------------------------------------------------


def test_malformed_xml_without_entries_is_a_source_error(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.route("/bad", b"<?xml version='1.0'?><rss><channel><title>x</titl", headers=RSS_TYPE)
    with pytest.raises(SourceError, match="not a readable feed"):
        collect(tmp_path, server.url("/bad"))


def test_malformed_xml_with_entries_keeps_them_and_notes_it(
    server: ScriptedServer, tmp_path: Path
) -> None:
    broken = harbour_rss().replace("<description>A short teaser", "<description>Tom & Jerry")
    server.route("/bad", broken, headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/bad"))
    assert_harbour(only(result), source="reviews", image_alt=HARBOUR_TITLE)
    assert any("not well-formed" in p.message for p in result.problems)


def test_html_page_served_as_a_feed(server: ScriptedServer, tmp_path: Path) -> None:
    page = "<!DOCTYPE html><html><head><title>Oops</title></head><body>Not here</body></html>"
    server.route("/feed", page, headers={"Content-Type": "text/html; charset=utf-8"})
    with pytest.raises(SourceError) as err:
        collect(tmp_path, server.url("/feed"))
    assert "HTML page, not a feed" in str(err.value)
    assert "sources[0].url" in str(err.value)


def test_empty_feed_gives_no_reviews_and_no_error(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/empty", rss(), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/empty"))
    assert result.reviews == ()
    assert result.problems == ()


def test_empty_body_is_a_clear_error(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/nothing", b"", headers=RSS_TYPE)
    with pytest.raises(SourceError, match="empty answer"):
        collect(tmp_path, server.url("/nothing"))


@pytest.mark.parametrize(
    ("content_type", "declaration"),
    [
        ("application/rss+xml; charset=utf-8", ""),  # wrong charset header, none declared
        ("application/rss+xml", ""),  # no charset anywhere
        ("text/xml; charset=utf-8", ' encoding="utf-8"'),  # both claim UTF-8, both wrong
    ],
)
def test_latin1_feed_with_wrong_or_missing_charset(
    server: ScriptedServer, tmp_path: Path, content_type: str, declaration: str
) -> None:
    body = rss(rss_item(title="Café Noir: Señor Ángel", html=HARBOUR_HTML.replace("&eacute;", "é")))
    body = body.replace(' encoding="utf-8"', declaration)
    server.route("/latin", body.encode("latin-1"), headers={"Content-Type": content_type})
    review = only(collect(tmp_path, server.url("/latin")))
    assert review.title == "Café Noir: Señor Ángel"
    assert "harbour café carries" in review.sections[0].text


def test_server_that_never_answers(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/hang", hang=True)
    with pytest.raises(FetchError, match="stopped answering"):
        collect(tmp_path, server.url("/hang"), http={"read_timeout": 0.3})


def test_endless_feed_is_cut_by_size(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/endless", trickle=rss_item().encode() * 4, trickle_interval=0.001)
    with pytest.raises(FetchError, match="larger than 65536 bytes"):
        collect(tmp_path, server.url("/endless"), http={"max_bytes": 65536})


def test_endless_feed_is_cut_by_the_total_deadline(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/endless", trickle=b"<item>", trickle_interval=0.02)
    with pytest.raises(FetchError, match="total_timeout"):
        collect(tmp_path, server.url("/endless"), http={"total_timeout": 0.5})


def test_loopback_feed_refused_without_allow_private(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.route("/feed.xml", harbour_rss(), headers=RSS_TYPE)
    with pytest.raises(FetchError, match=r"127\.0\.0\.1.*allow_private: true"):
        collect(tmp_path, server.url("/feed.xml"), allow_private=False)
    assert server.requests == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://x.example/</link></item></channel></rss>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&secret;</title><link>https://x.example/</link>
<pubDate>Mon, 23 Nov 2026 09:30:00 +0000</pubDate></item></channel></rss>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        # Malformed before the entities are used: still refused, never handed to feedparser.
        EXTERNAL_ENTITY.replace("<channel>", "<channel><unclosed>"),
    ],
    ids=["billion-laughs", "external-entity", "malformed-with-entity"],
)
def test_entity_declarations_are_refused(server: ScriptedServer, tmp_path: Path, body: str) -> None:
    server.route("/evil", body, headers=RSS_TYPE)
    with pytest.raises(SourceError, match="entities"):
        collect(tmp_path, server.url("/evil"))


def test_json_feed_errors_are_clear(server: ScriptedServer, tmp_path: Path) -> None:
    json_type = {"Content-Type": "application/feed+json"}
    server.route("/notjson", b"{ not json", headers=json_type)
    server.route("/deep", b"[" * 100_000 + b"]" * 100_000, headers=json_type)
    server.route("/noversion", json.dumps({"items": []}), headers=json_type)
    with pytest.raises(SourceError, match="not valid JSON"):
        collect(tmp_path, server.url("/notjson"))
    with pytest.raises(SourceError, match="nested too deeply"):
        collect(tmp_path, server.url("/deep"))
    with pytest.raises(SourceError, match="no JSON Feed version"):
        collect(tmp_path, server.url("/noversion"))


def test_json_feed_items_of_the_wrong_type_are_problems(
    server: ScriptedServer, tmp_path: Path
) -> None:
    good = json.loads(harbour_json_feed())["items"][0]
    items = [good, "a string", {"id": 7, "title": ["not", "text"], "date_published": 5}]
    feed = {"version": "https://jsonfeed.org/version/1", "items": items}
    server.route("/f", json.dumps(feed), headers={"Content-Type": "application/json"})
    result = collect(tmp_path, server.url("/f"))
    assert [r.title for r in result.reviews] == [HARBOUR_TITLE]
    messages = " | ".join(p.message for p in result.problems)
    assert "item 2 is not an object" in messages
    assert "'7' has no title" in messages


# ---------------------------------------------------------------------------------------------
# Hostile and odd content
# ---------------------------------------------------------------------------------------------

HOSTILE = """
<p><strong>Overview:</strong> Fine words.<script>stealCookies()</script></p>
<p onclick="stealCookies()">Click <a href="javascript:stealCookies()">here</a> and
<a href="https://reviews.example.org/more" onmouseover="stealCookies()">there</a>.</p>
<style>@import url(https://evil.example/x.css); body { background: url(javascript:x) }</style>
<p style="background:url(https://evil.example/track.png)">Styled away.</p>
<iframe src="https://evil.example/frame">framed stealCookies()</iframe>
<form action="https://evil.example/post"><input name="q" value="stealCookies()">Form text</form>
<svg onload="stealCookies()"><script>stealCookies()</script><text>svg text</text></svg>
<object data="https://evil.example/x.swf">object text</object>
<img src="javascript:stealCookies()" onerror="stealCookies()">
<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" alt="data image">
<p>Shown as text: &lt;script&gt;alert(1)&lt;/script&gt; and {{ 7 * 7 }}</p>
<p><strong>Rating:</strong> C</p>
"""


def review_text(review: Review) -> str:
    image = review.image
    parts = [review.title, review.author, review.overview, review.verdict]
    parts += [f"{s.heading}\n{s.text}" for s in review.sections]
    parts += [image.url, image.alt, image.credit] if image else []
    return "\n".join(parts)


def test_hostile_html_ends_up_inert_or_dropped(server: ScriptedServer, tmp_path: Path) -> None:
    title = "<b>Bold</b> claims<script>stealCookies()</script>"
    server.route("/f", rss(rss_item(title=title, html=HOSTILE)), headers=RSS_TYPE)
    review = only(collect(tmp_path, server.url("/f")))
    text = review_text(review)
    assert review.title == "Bold claims"
    assert "stealCookies" not in text  # scripts, handlers, frames, forms, svg: all gone
    for dropped in ("evil.example", "@import", "javascript", "framed", "Form text", "svg text"):
        assert dropped not in text
    assert "object text" not in text
    assert review.overview == "Fine words."
    assert review.image is None  # neither the javascript: nor the data: image is kept
    assert review.grade is not None and review.grade.letter == "C"
    # Escaped markup was text in the feed and stays plain text (rendering escapes it again).
    assert "Shown as text: <script>alert(1)</script> and {{ 7 * 7 }}" in text
    assert "Click here and there." in text


@pytest.mark.parametrize(
    "title",
    ["Harbour\nLights", "Harbour&#10;Lights", "Harbour&#13;&#10;\tLights", " Harbour  Lights \n"],
)
def test_titles_with_line_breaks_become_one_line(
    server: ScriptedServer, tmp_path: Path, title: str
) -> None:
    item = rss_item().replace(f"<title>{HARBOUR_TITLE}</title>", f"<title>{title}</title>")
    server.route("/f", rss(item), headers=RSS_TYPE)
    assert only(collect(tmp_path, server.url("/f"))).title == "Harbour Lights"


def test_sixty_entries_at_once(server: ScriptedServer, tmp_path: Path) -> None:
    items = [
        rss_item(
            title=f"Review number {n}",
            link=f"https://reviews.example.org/2026/review-{n}/",
            guid=f"guid-{n}",
            date=(PUBLISHED - timedelta(days=n)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
        )
        for n in range(60)
    ]
    server.route("/f", rss(*items), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/f"))
    assert len(result.reviews) == 60
    assert len({r.id for r in result.reviews}) == 60
    assert result.reviews[59].published == PUBLISHED - timedelta(days=59)
    assert result.problems == ()


def test_future_missing_and_unparseable_dates(server: ScriptedServer, tmp_path: Path) -> None:
    items = [
        rss_item(guid="ok"),
        rss_item(title="From the future", guid="future", date="Fri, 01 Jan 2100 00:00:00 +0000",
                 link="https://reviews.example.org/future/"),
        rss_item(title="Garbled date", guid="garbled", date="the day after tomorrow",
                 link="https://reviews.example.org/garbled/"),
        rss_item(title="No date", guid="none", date="", link="https://reviews.example.org/none/"),
    ]  # fmt: skip
    server.route("/f", rss(*items), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/f"))
    assert [r.title for r in result.reviews] == [HARBOUR_TITLE]
    messages = " | ".join(p.message for p in result.problems)
    assert "'From the future'" in messages and "in the future" in messages
    assert "'Garbled date': no readable publication date" in messages
    assert "'No date': no readable publication date" in messages


def test_changing_guid_keeps_the_review_id(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/f", rss(rss_item(guid="first-guid")), headers=RSS_TYPE)
    before = only(collect(tmp_path, server.url("/f")))
    tracked = HARBOUR_LINK + "?utm_source=rss"
    server.route("/f", rss(rss_item(guid="second-guid", link=tracked)), headers=RSS_TYPE)
    after = only(collect(tmp_path, server.url("/f")))
    assert before.key != after.key
    assert before.id == after.id


def test_entry_without_labels_is_listed_with_its_first_paragraph(
    server: ScriptedServer, tmp_path: Path
) -> None:
    html = "<p>A plain post about the festival line-up.</p><p>More words follow.</p>"
    # A description that only repeats the content is no summary of it.
    server.route("/f", rss(rss_item(html=html, description=html)), headers=RSS_TYPE)
    review = only(collect(tmp_path, server.url("/f")))
    assert review.overview == "A plain post about the festival line-up."
    assert review.grade is None and review.facts is None
    # A description of its own is the entry's summary: it comes before the first paragraph.
    server.route("/f", rss(rss_item(html=html)), headers=RSS_TYPE)
    assert only(collect(tmp_path, server.url("/f"))).overview == (
        "A short teaser that is not the full review."
    )


def test_entry_without_title_is_a_problem(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/f", rss(rss_item(title=""), rss_item(guid="2")), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/f"))
    assert len(result.reviews) == 1
    assert any("has no title" in p.message for p in result.problems)


def test_bad_rating_is_a_warning_not_a_failure(server: ScriptedServer, tmp_path: Path) -> None:
    html = HARBOUR_HTML.replace("B+</p>", "two thumbs up</p>")
    server.route("/f", rss(rss_item(html=html)), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/f"))
    assert only(result).grade is None
    assert any("not a grade" in p.message for p in result.problems)


def test_atom_entry_without_published_uses_updated(server: ScriptedServer, tmp_path: Path) -> None:
    atom = harbour_atom().replace("<published>2026-11-23T10:30:00+01:00</published>", "")
    server.route("/atom", atom, headers={"Content-Type": "application/atom+xml"})
    review = only(collect(tmp_path, server.url("/atom")))
    assert review.published == PUBLISHED + timedelta(hours=22, minutes=30)  # 24 Nov 08:00Z


def test_duplicate_entries_share_one_id_for_selection_to_fold(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.route("/f", rss(rss_item(guid="same"), rss_item(guid="same")), headers=RSS_TYPE)
    result = collect(tmp_path, server.url("/f"))
    assert len(result.reviews) == 2
    assert result.reviews[0].id == result.reviews[1].id


def test_one_broken_source_never_stops_the_others(server: ScriptedServer, tmp_path: Path) -> None:
    from digest.collect.collection import collect as collect_all

    server.route("/good.xml", harbour_rss(), headers=RSS_TYPE)
    server.route("/page", "<html><body>Shop</body></html>", headers={"Content-Type": "text/html"})
    server.route("/hang", hang=True)
    sources: list[dict[str, object]] = [
        {"type": "feed", "url": server.url("/page"), "allow_private": True, "name": "page"},
        {"type": "feed", "url": server.url("/hang"), "allow_private": True, "name": "hang"},
        {"type": "feed", "url": server.url("/good.xml"), "name": "no-allow"},
        {"type": "feed", "url": server.url("/good.xml"), "allow_private": True, "name": "good"},
    ]
    settings = settings_for(write_config(tmp_path, sources, http={"read_timeout": 0.3}))
    collection = collect_all(settings, now=NOW)
    assert [r.source for r in collection.reviews] == ["good"]
    failed = {p.source: p.message for p in collection.problems}
    assert set(failed) == {"page", "hang", "no-allow"}
    assert "HTML page, not a feed — check sources[0].url" in failed["page"]
    assert "stopped answering" in failed["hang"]
    assert "allow_private: true" in failed["no-allow"]
