"""``digest build``: a period's digest written to files, exactly as a send would carry it.

``pipeline.issue`` decides what the issue holds; this writes the HTML and text with neutral
stand-ins for each recipient's own values, and a complete ``.eml`` addressed to a reserved
preview address.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from digest.config import Config
from digest.deliver.message import MessageTemplate, Recipient
from digest.errors import DigestError
from digest.models import RenderedDigest
from digest.render.compose import neutral_html, neutral_text
from digest.render.lint import size_line

#: Who the preview message is addressed to: a reserved domain that can never receive mail.
PREVIEW_ADDRESS = "preview@example.invalid"
PREVIEW_TOKEN = "preview"  # noqa: S105 — a placeholder unsubscribe token, not a secret


def size_report(config: Config, rendered: RenderedDigest) -> str:
    """The HTML part's decoded and as-sent sizes against the clip budget (``digest build``)."""
    return size_line(rendered, config.newsletter.base_url)


def preview_message(config: Config, rendered: RenderedDigest, *, now: datetime) -> bytes:
    """The complete message a subscriber would get, addressed to a reserved preview address:
    one without a name, so, like the archive copy, it greets no one."""
    template = MessageTemplate.of_rendering(config, rendered, date=now)
    return template.render(Recipient(email=PREVIEW_ADDRESS, name="", token=PREVIEW_TOKEN))


def write_files(
    config: Config, rendered: RenderedDigest, out: Path, *, now: datetime
) -> list[Path]:
    """``digest.html``, ``digest.txt`` and ``digest.eml`` in ``out`` (created if needed)."""
    base = config.newsletter.base_url
    files = {
        "digest.html": neutral_html(rendered, base).encode("utf-8"),
        "digest.txt": neutral_text(rendered, base).encode("utf-8"),
        "digest.eml": preview_message(config, rendered, now=now),
    }
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = out / name
            path.write_bytes(data)
            written.append(path)
    except OSError as e:
        where = e.filename or out
        raise DigestError(
            f"{where}: can't write the build output ({e.strerror}); pass --out with a "
            "writable folder"
        ) from e
    return written
