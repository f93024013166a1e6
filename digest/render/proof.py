"""The editors' mails: the ``[PROOF]`` of an issue awaiting approval, and the short notes that
say an issue was held, or went out unapproved.

A proof is the issue exactly as rendered, with neutral recipient values (``compose.neutralise``)
and one banner above it — in the HTML and in the text part — naming the issue and carrying the
approve link. Only the link and the issue key come from digest; nothing from a feed is placed
outside the rendering it already went through.
"""

from __future__ import annotations

import html as html_lib
import re

from digest.models import Markers
from digest.render.compose import neutral_unsubscribe_url, neutralise

_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)

PROOF_PREFIX = "[PROOF] "


def proof_parts(
    html: str, text: str, markers: Markers, *, base_url: str, key: str, link: str
) -> tuple[str, str]:
    """(HTML, text) of the proof of issue ``key`` whose approve page is ``link``."""
    shown = html_lib.escape(link, quote=True)
    page = with_banner(
        neutralise(html, markers, base_url),
        f"<strong>Proof of issue {html_lib.escape(key)}</strong> — not yet sent to subscribers. "
        f'<a href="{shown}" style="color:#0b57d0;font-weight:bold">Review and approve it</a>',
    )
    plain = text.replace(markers.unsubscribe_url, neutral_unsubscribe_url(base_url))
    plain = plain.replace(markers.name, "reader")
    head = (
        f"PROOF of issue {key}: not yet sent to subscribers.\n"
        f"Review and approve it: {link}\n"
        f"{'-' * 72}\n\n"
    )
    return page, head + plain


def with_banner(page: str, inner: str, *, css_class: str = "digest-banner") -> str:
    """``page`` with a banner holding ``inner`` (HTML digest made and escaped) right after
    ``<body>``: the proof's approve link, the preview's state line."""
    banner = (
        f'<div class="{css_class}" style="background:#fff4c2;color:#222;border:2px solid '
        "#d9a400;padding:16px;margin:0 auto 12px;max-width:600px;font:15px/1.5 Arial,sans-serif"
        f'">{inner}</div>'
    )
    match = _BODY.search(page)
    at = match.end() if match else 0
    return page[:at] + banner + page[at:]


def held_parts(key: str, subject: str, deadline: str) -> tuple[str, str, str]:
    """(subject, text, HTML) of the note telling editors issue ``key`` was held."""
    text = (
        f"Issue {key} ({subject}) reached its send time without an editor's approval, so it "
        f"was held: nothing went to subscribers.\n\n"
        f"Approve it by {deadline} and it goes out then: with the link in its [PROOF] mail, "
        f"or from the shell with: digest approve {key}\n"
    )
    return f"[HELD] {key}: waiting for approval", text, _paragraphs(text)


def unapproved_parts(key: str, subject: str) -> tuple[str, str, str]:
    """(subject, text, HTML) of the note saying issue ``key`` went out unapproved."""
    text = (
        f"Issue {key} ({subject}) reached its send time without an editor's approval and "
        "was sent as proofed (schedule.on_unapproved: send).\n"
    )
    return f"[SENT UNAPPROVED] {key}", text, _paragraphs(text)


def _paragraphs(text: str) -> str:
    body = "".join(f"<p>{html_lib.escape(p)}</p>" for p in text.split("\n") if p.strip())
    return f'<!DOCTYPE html><html><body style="font:15px/1.5 Arial,sans-serif">{body}</body></html>'
