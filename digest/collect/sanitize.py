"""Make feed HTML harmless, then turn it into plain-text paragraphs.

Everything a feed or the WordPress API sends as HTML passes through ``clean_html`` first: nh3
(the Rust ammonia sanitiser) keeps a short allow-list of text tags, drops scripts, styles,
frames, forms, SVG and objects *with their content*, strips every event handler and style
attribute, and keeps only absolute http(s) links and image sources. Only then is the markup
read, by ``html_to_paragraphs``, into the plain text a ``Review`` holds.

Absurd input is bounded rather than trusted: the HTML is cut at ``MAX_HTML_CHARS``; past its
``MAX_TAGS``-th ``<`` it loses its tags; nesting is flattened beyond ``MAX_DEPTH`` (and
formatting elements beyond ``MAX_FORMATTING``), with end tags that close nothing dropped,
before the sanitiser sees it (html5ever's tree building slows down with the square of the
depth); and the text is capped per paragraph and in count. The
reader is a streaming ``html.parser`` over the sanitised markup, so no depth can recurse.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from typing import Literal

import nh3

#: Input beyond this many characters is cut before sanitising (a review is a few thousand).
MAX_HTML_CHARS = 2_000_000
#: Open elements kept nested; deeper tags are dropped and their text kept.
MAX_DEPTH = 100
#: Formatting elements (``<b>``, ``<em>`` …) kept open at once: the tree builder re-opens every
#: one of them in each new paragraph, so their depth multiplies the sanitised output.
MAX_FORMATTING = 12
#: Tags read in one piece of HTML (a long review has a few hundred); later ones are dropped.
MAX_TAGS = 5_000
MAX_PARAGRAPH_CHARS = 20_000
MAX_PARAGRAPHS = 1_000

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "img"}
)
#: Removed together with everything inside them.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "frame", "frameset", "form", "svg", "math", "object"}
    | {"embed", "applet", "noscript", "noembed", "noframes", "template", "textarea"}
    | {"select", "button", "title", "xmp"}
)
#: ``"*"`` empty: no attribute is allowed on every tag (ammonia's default allows lang, title).
#: ``srcset`` is kept only to read an image's renditions; each URL in it is checked when chosen.
ALLOWED_ATTRIBUTES = {
    "*": set(),
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "srcset"},
}

#: Elements that end one paragraph of text and start the next.
_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "br", "hr", "section", "article", "figure"}
    | {"figcaption", "table", "tr", "td", "th", "pre", "dl", "dt", "dd", "header", "footer"}
    | {"h1", "h2", "h3", "h4", "h5", "h6"}
)
#: Elements HTML closes by itself, so they don't deepen the tree when left open.
_SELF_CLOSING = frozenset(
    {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rp", "rt", "tbody"}
    | {"thead", "tfoot", "colgroup", "caption"}
    | {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "param", "keygen"}
)
#: HTML's "active formatting elements", which the tree builder reconstructs after a block.
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong"}
    | {"tt", "u"}
)
#: Stops at the next "<" so a run of unterminated tags can't make the scan quadratic.
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*>")
#: A tag, or any other "<", in markup past ``MAX_TAGS``.
_PAST_CAP_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*>|<")
#: C0/C1 controls and bidi overrides have no place in a title or paragraph.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _cap_tags(html: str) -> str:
    """Markup past the ``MAX_TAGS``-th ``<`` loses its tags and keeps its text.

    Whatever the tags are, the sanitiser's work grows with their number (misnested or stray
    ones can make it quadratic), and no tag can begin without a ``<``: counting them bounds the
    work even for markup the scan in ``_flatten`` reads differently from the sanitiser.
    """
    parts = html.split("<", MAX_TAGS)
    if len(parts) <= MAX_TAGS:
        return html
    rest = _PAST_CAP_RE.sub(_past_cap, re.sub(r"<[^<>]*\Z", "", "<" + parts[-1]))
    return "<".join(parts[:-1]) + re.sub(r"(?:<br>\s*)+", "<br>", rest)


def _past_cap(m: re.Match[str]) -> str:
    """A tag past the cap goes, but a block tag still ends its paragraph (as a void ``<br>``);
    a ``<`` that starts no tag is text."""
    if m.group(2) is None:
        return "&lt;"
    return "<br>" if m.group(2).lower() in _BLOCKS else ""


def _flatten(html: str) -> str:
    """Drop tags nested deeper than ``MAX_DEPTH``, and end tags that close nothing open.

    Depth is counted on a stack of the elements kept open, as the sanitiser's tree builder
    counts it: a stray end tag (``</q>`` with no ``<q>`` open) closes nothing, so it can't
    make room for one more level — it is dropped, as each one would cost the tree builder a
    search of every open element.
    """
    if html.count("<") <= MAX_DEPTH:
        return html
    out: list[str] = []
    kept: list[str] = []  # the open elements kept, outermost first
    dropped: Counter[str] = Counter()  # start tags dropped for depth, their end tags due
    last = 0
    for m in _TAG_RE.finditer(html):
        name = m.group(2).lower()
        if name in _SELF_CLOSING:
            continue
        keep = True
        if not m.group(1):
            keep = len(kept) < MAX_DEPTH and (
                name not in _FORMATTING or sum(k in _FORMATTING for k in kept) < MAX_FORMATTING
            )
            if keep:
                kept.append(name)
            else:
                dropped[name] += 1
        elif dropped[name]:
            dropped[name] -= 1
            keep = False
        elif name in kept:
            del kept[len(kept) - 1 - kept[::-1].index(name) :]
        else:
            keep = False
        if not keep:
            out.append(html[last : m.start()])
            last = m.end()
    if not out:
        return html
    out.append(html[last:])
    return "".join(out)


def clean_html(html: str, *, base_url: str | None = None) -> str:
    """Sanitised HTML: only the allow-list survives, every URL absolute http(s).

    Relative links and image sources are resolved against ``base_url`` (the entry's link)
    when one is given, and dropped otherwise.
    """
    relative: Literal["deny"] | tuple[Literal["rewrite_with_base"], str] = "deny"
    if base_url and base_url.lower().startswith(("http://", "https://")):
        relative = ("rewrite_with_base", base_url)
    html = _flatten(_cap_tags(html[:MAX_HTML_CHARS]))
    try:
        return _clean(html, relative)
    except ValueError:  # a base URL the sanitiser can't parse: drop relative URLs instead
        return _clean(html, "deny")


def _clean(html: str, relative: Literal["deny"] | tuple[Literal["rewrite_with_base"], str]) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https"},
        url_relative=relative,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def clean_text(text: str) -> str:
    """Plain text with control characters removed and whitespace collapsed to single spaces."""
    return " ".join(_CONTROL_RE.sub("", text).split())


class _TextReader(HTMLParser):
    """Collects text, starting a new paragraph at every block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.images: list[tuple[str, str, str, str, str]] = []
        self._current: list[str] = []
        self._size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._flush()
        elif tag == "img" and len(self.images) < 20:
            found = {k: v or "" for k, v in attrs}
            self.images.append(
                (found.get("src", ""), found.get("alt", ""), found.get("width", ""),
                 found.get("height", ""), found.get("srcset", ""))
            )  # fmt: skip

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._size < MAX_PARAGRAPH_CHARS:
            self._current.append(data[: MAX_PARAGRAPH_CHARS - self._size])
            self._size += len(data)

    def _flush(self) -> None:
        text = clean_text("".join(self._current))
        self._current = []
        self._size = 0
        if text and len(self.paragraphs) < MAX_PARAGRAPHS:
            self.paragraphs.append(text)


def _read(clean: str) -> _TextReader:
    reader = _TextReader()
    reader.feed(clean)
    reader.close()
    reader._flush()
    return reader


def html_to_paragraphs(html: str, *, base_url: str | None = None) -> list[str]:
    """The text of ``html``, one string per block element (sanitised first, always)."""
    return _read(clean_html(html, base_url=base_url)).paragraphs


def html_to_text(html: str, *, base_url: str | None = None) -> str:
    """The text of ``html`` as paragraphs separated by blank lines."""
    return "\n\n".join(html_to_paragraphs(html, base_url=base_url))


def html_to_line(html: str) -> str:
    """The text of ``html`` on one line (for titles and names that may hold markup)."""
    return " ".join(html_to_paragraphs(html))


def read_html(html: str, *, base_url: str | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    """Paragraphs and images ``(src, alt, width, height, srcset)`` of ``html``, sanitised first."""
    reader = _read(clean_html(html, base_url=base_url))
    return reader.paragraphs, list(reader.images)
