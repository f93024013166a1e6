"""Sanitising feed HTML and reading it as text: hostile, huge and deeply nested input."""

from __future__ import annotations

import re

import pytest

from digest.collect.sanitize import (
    MAX_HTML_CHARS,
    MAX_PARAGRAPH_CHARS,
    MAX_PARAGRAPHS,
    clean_html,
    html_to_line,
    html_to_paragraphs,
    html_to_text,
    read_html,
)

HOSTILE_CASES = [
    "<script>alert(1)</script><p>kept</p>",
    '<p onclick="alert(1)" onmouseover="alert(2)">kept</p>',
    '<a href="javascript:alert(1)">kept</a>',
    '<a href="JaVaScRiPt&#58;alert(1)">kept</a>',
    '<a href=" javascript:alert(1)">kept</a>',
    '<a href="vbscript:msgbox(1)">kept</a>',
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="kept">',
    '<img src="x" onerror="alert(1)" alt="kept">',
    '<style>@import url("https://evil.example/a.css");</style><p>kept</p>',
    '<link rel="stylesheet" href="https://evil.example/a.css"><p>kept</p>',
    '<p style="background:url(https://evil.example/t.png)">kept</p>',
    '<iframe src="https://evil.example/"></iframe><p>kept</p>',
    '<form action="https://evil.example/"><input name="a"><button>go</button></form><p>kept</p>',
    '<svg onload="alert(1)"><script>alert(1)</script></svg><p>kept</p>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math><p>kept</p>',
    '<object data="https://evil.example/x.swf"></object><embed src="x.swf"><p>kept</p>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/"><p>kept</p>',
    '<base href="https://evil.example/"><p>kept</p>',
    "<p>kept</p><!-- <script>alert(1)</script> -->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">kept</p></noscript>',
    "<template><script>alert(1)</script></template><p>kept</p>",
]

EXECUTABLE = re.compile(
    r"<\s*(script|style|iframe|form|svg|math|object|embed|meta|base|link|input|button)\b"
    r"|\bon[a-z]+\s*=|javascript:|vbscript:|data:|style\s*=|@import|evil\.example",
    re.IGNORECASE,
)


@pytest.mark.parametrize("html", HOSTILE_CASES)
def test_nothing_executable_survives_cleaning(html: str) -> None:
    cleaned = clean_html(html, base_url="https://reviews.example.org/post/")
    assert not EXECUTABLE.search(cleaned), cleaned
    text = html_to_text(html)
    assert "alert(" not in text
    assert "evil.example" not in text


def test_split_script_tag_does_not_reassemble() -> None:
    cleaned = clean_html("<scr<script>ipt>alert(1)</script><p>kept</p>")
    assert "<script" not in cleaned.lower()
    # What is left is text that merely looks like markup; it is escaped wherever it is shown.
    assert cleaned.endswith("<p>kept</p>")
    assert "<" not in cleaned.removesuffix("<p>kept</p>")


def test_allow_list_keeps_text_structure_and_http_links() -> None:
    html = (
        '<h2>Head</h2><p><strong>Bold</strong> <em>it</em> <a href="https://ok.example/a" '
        'title="t" class="c">link</a></p><ul><li>one</li></ul><blockquote>q</blockquote>'
        '<img src="https://ok.example/i.jpg" alt="A" width="10" height="20" class="big">'
    )
    cleaned = clean_html(html)
    assert '<a href="https://ok.example/a" rel="noopener noreferrer nofollow">link</a>' in cleaned
    assert '<img src="https://ok.example/i.jpg" alt="A" width="10" height="20">' in cleaned
    for tag in ("h2", "strong", "em", "ul", "li", "blockquote"):
        assert f"<{tag}>" in cleaned
    assert "class=" not in cleaned and "title=" not in cleaned


def test_relative_urls_resolved_with_a_base_and_dropped_without() -> None:
    html = '<a href="/about">a</a><img src="pic.jpg">'
    assert 'href="https://site.example/about"' in clean_html(
        html, base_url="https://site.example/x/"
    )
    assert 'src="https://site.example/x/pic.jpg"' in clean_html(
        html, base_url="https://site.example/x/"
    )
    bare = clean_html(html)
    assert "href" not in bare and "src" not in bare
    # A base the sanitiser can't parse means no base, not a crash.
    assert "src" not in clean_html(html, base_url="http://")


def test_labelled_paragraphs_become_plain_text() -> None:
    html = (
        "<p><strong>Overview:</strong> A tale of two&nbsp;ferries &amp; a storm.\n"
        "Channel 5; 2023; 12; 90 min.</p>"
        "<p>Rating: A-<br/>Featured Image: Channel 5</p>"
        "<ul><li>first</li><li>second</li></ul><div>Loose <span>text</span></div>"
    )
    assert html_to_paragraphs(html) == [
        "Overview: A tale of two ferries & a storm. Channel 5; 2023; 12; 90 min.",
        "Rating: A-",
        "Featured Image: Channel 5",
        "first",
        "second",
        "Loose text",
    ]


def test_control_characters_and_bidi_overrides_are_removed() -> None:
    assert html_to_line("A\x00B\x1b[31mC\u202eD\u2028E") == "AB[31mCD E"


def test_images_are_reported_after_cleaning() -> None:
    paragraphs, images = read_html(
        '<p>x</p><img src="javascript:alert(1)" alt="bad"><img src="https://i.example/a.png" '
        'alt="good" width="3" height="4">'
    )
    assert paragraphs == ["x"]
    assert images == [("", "bad", "", "", ""), ("https://i.example/a.png", "good", "3", "4", "")]


@pytest.mark.parametrize(
    "tag", ["div", "blockquote", "span", "b", "a", "ul", "li", "p", "table", "svg", "em", "h1"]
)
def test_hundred_thousand_levels_of_nesting(tag: str) -> None:
    depth = 100_000
    html = f"<{tag}>" * depth + "deep text" + f"</{tag}>" * depth + "<p>after</p>"
    paragraphs = html_to_paragraphs(html)
    if tag != "svg":  # svg is dropped with its content
        assert paragraphs[0] == "deep text"
    if len(html) <= MAX_HTML_CHARS:  # beyond the cap the input is cut, "after" with it
        assert paragraphs[-1] == "after"


def test_unclosed_and_unterminated_tags_in_bulk() -> None:
    assert html_to_paragraphs("<div>" * 100_000 + "tail") == ["tail"]
    assert html_to_paragraphs("<a" * 300_000) == []


def test_five_megabytes_of_text() -> None:
    html = "<p>" + "word " * 1_000_000 + "</p><p>end</p>"
    paragraphs = html_to_paragraphs(html)
    assert 1 <= len(paragraphs) <= MAX_PARAGRAPHS
    assert all(len(p) <= MAX_PARAGRAPH_CHARS for p in paragraphs)
    assert paragraphs[0].startswith("word word")


def test_paragraph_count_is_capped() -> None:
    paragraphs = html_to_paragraphs("<p>x</p>" * (MAX_PARAGRAPHS + 500))
    assert len(paragraphs) == MAX_PARAGRAPHS
