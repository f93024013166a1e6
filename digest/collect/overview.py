"""An overview for every review with text, whatever shape the site writes it in.

In order: the labelled ``Overview:`` (read by ``digest.collect.fields``); else the entry's own
summary — WordPress's ``excerpt``, a feed's ``description`` / ``summary``, a JSON Feed
``summary`` — when it is not simply the whole content again; else the first *real* paragraph
of the content. A real paragraph is prose: not a short heading, not a credit line such as
``Source: …``, ``Photo: …`` or ``Tags: …``, not a byline, not the "Continue reading" or
"The post … appeared first on …" lines feeds append. If no paragraph passes, the first
paragraph that has any text still does, so a review with text never goes out without one.
"""

from __future__ import annotations

import re

from digest.collect import fields
from digest.collect.grades import strip_edges

#: An overview taken from a summary or a paragraph is this long at most.
MAX_PLAIN_OVERVIEW = 400
#: A paragraph this short with no sentence ending is a heading or a caption, not prose.
_MIN_WORDS = 8
#: Lines a site or feed adds around the text: never an overview.
_BOILERPLATE = re.compile(
    r"^(?:the post .+ appeared first on .+|continue reading\b.*|read more\b.*|read the full\b.*"
    r"|share this\b.*|related\b.*|posted (?:in|by|on)\b.*|filed under\b.*"
    r"|(?:image|photo|picture|source|via|credit|tags?|categories|category)\s*:.*)$",
    re.I | re.S,
)
#: A byline: "By" and up to four capitalised names, nothing else.
_BYLINE = re.compile(r"^By [A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,3}$")
#: What a truncated excerpt ends with.
_MORE_TAIL = re.compile(
    r"\s*(?:\[(?:…|\.\.\.|&hellip;)\]|…|\.\.\.)?\s*(?:(?:continue reading|read more)\b.*)?$",
    re.I | re.S,
)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def is_real(paragraph: str) -> bool:
    """Prose, not a heading, a credit line, a byline or a feed's boilerplate."""
    text = paragraph.strip()
    if _BOILERPLATE.match(text) or _BYLINE.match(text):
        return False
    words = text.split()
    if len(words) < _MIN_WORDS and not text.endswith((".", "!", "?", "…", '"', "”")):
        return False
    label = fields.split_label(text)
    return label is None or len(label[1].split()) >= _MIN_WORDS


def first_real_paragraph(paragraphs: list[str]) -> str:
    """The first real paragraph (its text after any label), else the first with any text."""
    for paragraph in paragraphs:
        if is_real(paragraph):
            label = fields.split_label(paragraph)
            return label[1] if label else paragraph
    for paragraph in paragraphs:
        if paragraph.strip() and not _BOILERPLATE.match(paragraph.strip()):
            return paragraph
    return ""


def clean_summary(paragraphs: list[str], content: list[str]) -> str:
    """The summary as an overview: its prose, less "[…]" and "Continue reading"; ``""`` when
    it is the whole content again (a feed that repeats the content as its description)."""
    kept = [p for p in paragraphs if not _BOILERPLATE.match(p.strip())]
    text = " ".join(" ".join(kept).split())
    whole = " ".join(" ".join(content).split())
    if not text or text == whole:
        return ""
    text = _MORE_TAIL.sub("", text).strip()
    return strip_edges(text)


def choose_overview(labelled: str, summary: str, paragraphs: list[str]) -> str:
    """The labelled overview, else the summary, else the first real paragraph (shortened)."""
    if labelled:
        return labelled
    if summary:
        return shorten(summary, MAX_PLAIN_OVERVIEW)
    return shorten(strip_edges(first_real_paragraph(paragraphs)), MAX_PLAIN_OVERVIEW)
