"""The pre-send lint: what a careful editor would check in the final message before it goes out.

``lint(rendered)`` reads the final HTML and text (markers still in place) and returns one
sentence per finding; ``digest build`` prints them and the ledger keeps them with the issue.
Findings are warnings: the publication decides.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from digest.models import RenderedDigest
from digest.render.wire import CLIP_AT, CLIP_BUDGET, html_part_size

#: Gmail clips the HTML part past about 102 KB as received; warn (encoded size) with room to spare.
WARN_AT = 90 * 1024
_TAG = re.compile(r"</?(?:html|head|body|div|table|td|tr|span|p|a|img|br|mj-[a-z-]+)\b[^>]*>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_WORD = re.compile(r"\W+")
_URL_IN_CSS = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]+)", re.I)


def _is_secure(url: str, markers: tuple[str, ...]) -> bool:
    url = url.strip()
    return (
        url.lower().startswith(("https://", "mailto:", "#", "cid:")) or url in markers or url == ""
    )


def sizes(rendered: RenderedDigest, base_url: str, encoded: int | None = None) -> tuple[int, int]:
    """(decoded, encoded) bytes of the HTML part; encoded = as sent, for the longest recipient
    (``html_part_size``; pass it when already measured, as the clip guard has)."""
    if encoded is None:
        encoded = html_part_size(rendered.html, rendered.markers, base_url)
    return len(rendered.html.encode("utf-8")), encoded


def size_line(rendered: RenderedDigest, base_url: str) -> str:
    """One line for ``digest build``: both sizes against the trim budget and Gmail's limit."""
    decoded, encoded = sizes(rendered, base_url)
    return (
        f"HTML part {decoded / 1024:.1f} KB decoded, {encoded / 1024:.1f} KB as sent "
        f"(quoted-printable, longest recipient); trim budget {CLIP_BUDGET // 1024} KB, "
        f"Gmail clips at {CLIP_AT // 1024} KB"
    )


def _html_findings(rendered: RenderedDigest, base_url: str, encoded: int | None) -> list[str]:
    found: list[str] = []
    decoded, encoded = sizes(rendered, base_url, encoded)
    if encoded > WARN_AT:
        found.append(
            f"the HTML part is {encoded / 1024:.0f} KB as sent ({decoded / 1024:.0f} KB "
            f"decoded); Gmail clips past {CLIP_AT // 1024} KB and hides the footer (fewer "
            f"reviews or shorter templates keep it under {WARN_AT // 1024} KB)"
        )
    if rendered.html.lstrip()[:9].lower() != "<!doctype":
        found.append("the HTML has no doctype; some clients fall back to quirks mode")
    try:
        doc = lxml.html.document_fromstring(rendered.html)
    except (etree.ParserError, ValueError) as e:
        return [*found, f"the HTML could not be parsed ({e})"]
    markers = (rendered.markers.unsubscribe_url,)
    missing_alt = [img.get("src", "?") for img in doc.iter("img") if not img.get("alt", "").strip()]
    for src in missing_alt[:5]:
        found.append(f"image {src[:100]} has no alt text")
    unsized = [
        img.get("src", "?")
        for img in doc.iter("img")
        if not (img.get("width", "").isdigit() and img.get("height", "").isdigit())
    ]
    for src in unsized[:5]:
        found.append(
            f"image {src[:100]} has no numeric width and height; it collapses when images are "
            "blocked and may overflow on phones"
        )
    insecure: list[str] = []
    for element, attribute in (("a", "href"), ("img", "src"), ("link", "href")):
        for node in doc.iter(element):
            url = node.get(attribute, "")
            if not _is_secure(url, markers):
                insecure.append(f"<{element} {attribute}={url[:100]}>")
    # Each style attribute and block is looked at only when the HTML has a url( at all.
    has_url = b"url(" in rendered.html.encode().lower()  # bytes: a case-blind regex is 4× slower
    for node in doc.xpath("//*[@style] | //style") if has_url else ():
        css = node.get("style", "") if node.tag != "style" else (node.text or "")
        insecure.extend(
            f"CSS url({u[:100]})" for u in _URL_IN_CSS.findall(css) if not _is_secure(u, ())
        )
    for what in insecure[:5]:
        found.append(f"{what} is not https; mail clients may block or warn about it")
    if len(insecure) > 5:
        found.append(f"… and {len(insecure) - 5} more non-https links or images")
    if rendered.markers.unsubscribe_url not in rendered.html:
        found.append("the HTML has no unsubscribe link (the template lost {{ unsubscribe_url }})")
    return found


def _text_findings(rendered: RenderedDigest) -> list[str]:
    text = rendered.text
    if not text.strip():
        return ["the plain-text part is empty; check the *.txt.j2 template"]
    found: list[str] = []
    # Markup a review itself contains is shown as text, rightly; any other tag is the
    # template's doing.
    quoted = {
        " ".join(tag.split())
        for r in rendered.reviews
        for field in (r.title, r.overview, r.facts.raw if r.facts else "")
        for tag in _TAG.findall(field)
    }
    if any(" ".join(tag.split()) not in quoted for tag in _TAG.findall(text)):
        found.append("the plain-text part contains HTML tags; check the *.txt.j2 template")
    if _CONTROL.search(text) or "\ufffd" in text:
        found.append("the plain-text part contains control or replacement characters")
    if rendered.markers.unsubscribe_url not in text:
        found.append("the plain-text part has no unsubscribe link")
    # Compare letters and digits only: the text part wraps lines and drops control characters.
    words = _NON_WORD.sub("", text)
    lost = [r.title for r in rendered.reviews if _NON_WORD.sub("", r.title[:60]) not in words]
    for title in lost[:5]:
        found.append(f"the plain-text part does not mention {title[:80]!r}")
    return found


def lint(
    rendered: RenderedDigest, base_url: str = "https://example.org", html_size: int | None = None
) -> tuple[str, ...]:
    """Every finding about the final message, most important first (``base_url`` goes into the
    longest unsubscribe link the size check assumes; ``html_size``, when the caller has it, is
    that size, ``html_part_size``, so it is not measured twice)."""
    found: list[str] = []
    if not rendered.reviews:
        found.append("the digest has no reviews (only the quiet-week note)")
    for review in rendered.reviews:
        lacks = [
            what
            for what, present in (("grade", review.grade), ("overview", review.overview))
            if not present
        ]
        if lacks:
            found.append(f"{review.title[:80]!r} has no {' or '.join(lacks)}")
    return (*found, *_html_findings(rendered, base_url, html_size), *_text_findings(rendered))
