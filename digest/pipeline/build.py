"""``digest build`` and the preview: collect → select → render, without sending anything.

What comes out is what a real send of the current period would carry — the same selection
(reviews already in an earlier issue are left out when the state database exists), the same
render, the same message builder — with neutral stand-ins for each recipient's own values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from digest.collect.collection import Collection, collect
from digest.config import Config
from digest.deliver.message import MessageTemplate, Recipient
from digest.errors import DigestError
from digest.models import Period, RenderedDigest
from digest.period import current_period
from digest.render.compose import (
    NEUTRAL_NAME,
    empty_period_message,
    neutral_html,
    neutral_text,
    render_digest,
)
from digest.select import Selected, select_reviews, sent_before

#: Who the preview message is addressed to: a reserved domain that can never receive mail.
PREVIEW_ADDRESS = "preview@example.invalid"
PREVIEW_TOKEN = "preview"  # noqa: S105 — a placeholder unsubscribe token, not a secret


@dataclass(frozen=True, slots=True)
class Built:
    """One period's digest as it would go out; ``rendered`` is None when nothing is sent."""

    period: Period
    collection: Collection
    selected: Selected
    rendered: RenderedDigest | None

    @property
    def nothing_to_send(self) -> str:
        """The message to show instead of a digest, or "" when there is one."""
        return "" if self.rendered is not None else empty_period_message(self.period)


def select_and_render(
    config: Config,
    period: Period,
    collection: Collection,
    *,
    now: datetime,
    already_sent: frozenset[str],
    carry_since: datetime | None,
) -> tuple[Selected, RenderedDigest | None]:
    """Select the period's reviews and render them — the one place that decides whether a
    period has a digest at all (``digest build``, the preview, a send, a dry run, a test copy).

    ``None`` instead of a digest when every source failed, or when nothing is new and no
    quiet-week note is configured.
    """
    selected = select_reviews(
        config, collection, period, already_sent=already_sent, now=now, carry_since=carry_since
    )
    if collection.all_failed or not (selected.reviews or config.newsletter.quiet_week):
        return selected, None
    return selected, render_digest(config, period, selected.reviews, now=now)


def build_digest(
    config: Config,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    collection: Collection | None = None,
    client: httpx.Client | None = None,
) -> Built:
    """Collect (unless ``collection`` is given), select and render the period for ``now``."""
    period = current_period(config, now, since=since, until=until)
    already, carry = sent_before(config, period)
    carry = None if since is not None else carry
    if collection is None:
        collection = collect(
            config, now=now, since=carry or period.start, until=period.end, client=client
        )
    selected, rendered = select_and_render(
        config, period, collection, now=now, already_sent=already, carry_since=carry
    )
    return Built(period, collection, selected, rendered)


def preview_message(config: Config, rendered: RenderedDigest, *, now: datetime) -> bytes:
    """The complete message a subscriber would get, addressed to a reserved preview address."""
    template = MessageTemplate(
        config=config,
        issue_key=rendered.period.key,
        subject=rendered.subject,
        html_body=rendered.html,
        text_body=rendered.text,
        markers=rendered.markers,
        date=now,
    )
    return template.render(Recipient(email=PREVIEW_ADDRESS, name=NEUTRAL_NAME, token=PREVIEW_TOKEN))


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
