"""The web archive: sent issues as pages and an RSS feed, without anyone's personal data.

For ``digest serve``; the queries are the ledger's (``ledger.sent_issues``, ``get_issue``).
An issue's stored HTML still holds the per-recipient
markers (``Markers``) the sender replaces for each subscriber; the archive replaces them with
neutral values instead — the unsubscribe link points at the general ``/unsubscribe`` page and
the greeting names nobody — so the archived copy is the email as sent, minus the recipient.
The neutralising is the render stage's (``render.neutralise``), so the archive, ``digest build``
and the preview show the same copy.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC
from email.utils import format_datetime

from digest.render.compose import neutralise
from digest.state.db import Connection
from digest.state.ledger import ArchivedIssue, get_issue

#: The only shape of issue id the archive serves (an ISO week key, e.g. ``2026-W48``).
ISSUE_KEY = re.compile(r"\d{4}-W\d{2}")
#: Characters XML 1.0 forbids; a subject carrying one would make the whole feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
#: Issues a feed carries; readers only need the recent ones.
FEED_LENGTH = 50


def issue_html(conn: Connection, key: str, base_url: str) -> str | None:
    """The stored email HTML of issue ``key`` with its markers neutralised, or ``None``.

    An issue still ``sending`` is served too: its first recipients already hold the email and
    may follow its "view in browser" link long before the last message leaves.
    """
    if not ISSUE_KEY.fullmatch(key):
        return None
    issue = get_issue(conn, key)
    if issue is None or issue.status not in ("done", "sending") or not issue.html:
        return None
    return neutralise(issue.html, issue.markers, base_url)


def with_nav(page: str, nav: str) -> str:
    """The archived email with ``nav`` (``web/issue_nav.html.j2``: back to the archive, to
    sign-up) right after its ``<body>`` tag, or first when it has none."""
    m = _BODY_TAG.search(page)
    at = m.end() if m else 0
    return page[:at] + nav + page[at:]


def rss_feed(issues: list[ArchivedIssue], *, title: str, base_url: str, description: str) -> bytes:
    """An RSS 2.0 document of ``issues`` (newest first) with absolute links from ``base_url``."""

    def text(s: str) -> str:
        return _NOT_XML.sub("", s)

    atom = "http://www.w3.org/2005/Atom"
    ET.register_namespace("atom", atom)
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = text(title)
    ET.SubElement(channel, "link").text = f"{base_url}/issues"
    ET.SubElement(channel, "description").text = text(description)
    ET.SubElement(
        channel,
        f"{{{atom}}}link",
        href=f"{base_url}/issues/feed.xml",
        rel="self",
        type="application/rss+xml",
    )
    if issues:
        ET.SubElement(channel, "lastBuildDate").text = format_datetime(issues[0].sent)
    for issue in issues[:FEED_LENGTH]:
        link = f"{base_url}/issues/{issue.key}"
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = text(issue.subject)
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", isPermaLink="true").text = link
        ET.SubElement(item, "pubDate").text = format_datetime(issue.sent.astimezone(UTC))
        count = f"{issue.review_count} review{'s' if issue.review_count != 1 else ''}"
        summary = f"{issue.preheader} ({count})" if issue.preheader else count
        ET.SubElement(item, "description").text = text(summary)
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document
