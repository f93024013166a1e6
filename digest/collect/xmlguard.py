"""From a feed's bytes to the UTF-8 text feedparser parses, refused if it declares entities.

The bytes are decoded first, exactly as feedparser decodes them (BOM, the HTTP charset, the
XML declaration, chardet, then its fall-backs), and re-encoded as UTF-8 with a matching
declaration. Every check then runs on that text, and feedparser is handed those same bytes:

- so a check can't be dodged by an encoding it does not read (a UTF-16, UTF-32 or EBCDIC
  feed whose ``<!ENTITY`` a byte pattern never matches);
- so expat, which refuses multi-byte encodings (Big5, Shift_JIS, EUC-KR, GB2312), only ever
  sees UTF-8.

Entity declarations are refused whenever the text holds one: a well-formed document through
defusedxml, a malformed one by a search of the whole text — feedparser rewrites the DOCTYPE
of a malformed document (a stray ``%`` inside it, say) into one its strict parser accepts.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # only for its ParseError type; parsing is defused

import defusedxml
import defusedxml.ElementTree as SafeET
from feedparser.encodings import convert_to_utf8

from digest.errors import SourceError

#: What feedparser is told about the bytes ``to_utf8`` returns.
UTF8_XML = "application/xml; charset=utf-8"

_PROLOGUE_RE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>|\s+", re.S | re.I)
_ROOT_RE = re.compile(r"<([A-Za-z][\w:.-]*)")
_ENTITY_RE = re.compile(rb"<!\s*ENTITY", re.I)


def to_utf8(body: bytes, content_type: str) -> bytes:
    """``body`` decoded as feedparser would decode it, as UTF-8 with a UTF-8 declaration."""
    data: bytes = convert_to_utf8({"content-type": content_type or "application/xml"}, body, {})
    return data


def root_element(data: bytes) -> str | None:
    """The first element's name (lower-case) in UTF-8 ``data``, looked for past the prologue."""
    text = data[:8192].decode("utf-8", errors="ignore").lstrip("\ufeff")
    rest = _PROLOGUE_RE.sub("", text)
    m = _ROOT_RE.match(rest.lstrip())
    if m:
        return m.group(1).lower()
    if re.search(r"<!doctype\s+html", text, re.I):
        return "html"
    return None


def refuse_entities(data: bytes, label: str) -> None:
    """Refuse entity declarations and external references in UTF-8 ``data``."""
    try:
        SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as e:
        raise SourceError(
            label,
            f"the feed declares XML entities or external references ({type(e).__name__}); "
            "refused, as they can exhaust memory or read local files",
        ) from e
    except ET.ParseError:
        # Malformed: feedparser's lenient reader may still recover entries — but never expand
        # an entity declaration hidden after the point where the strict parse gave up.
        if _ENTITY_RE.search(data):
            raise SourceError(
                label, "the feed declares XML entities; refused, as they can exhaust memory"
            ) from None
