"""Render one issue: Jinja2 → MJML → mjml-python → premailer, plus a plain-text part.

The digest is rendered once per issue; ``html`` and ``text`` hold ``Markers`` where each
recipient's own values go, and the sender fills them in by plain substitution.

Trust: templates (bundled, or the publication's own folder named by ``templates:``) are code;
everything from a review is data. Templates see only plain strings built by ``_card`` (control
characters and marker look-alikes removed, lengths capped), autoescaping is on for every
template except ``*.txt.j2``, and they run in Jinja's sandbox with ``StrictUndefined`` so a typo
is an error instead of a silent blank.

Gmail clips a message whose HTML part passes about 102 KB as received, hiding the footer and
its unsubscribe link. The guard measures the part as it will be sent (quoted-printable, the
longest recipient values in place: ``render.wire``) and, past ``TRIM_AT``, drops reviews from
the end of the list (they are linked as "N more reviews on the site") until it fits.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from digest.config import Config
from digest.config.cadence import NOUNS
from digest.errors import RenderError
from digest.models import Markers, Period, RenderedDigest, Review
from digest.render.cards import CONTROL as _CONTROL
from digest.render.cards import MARKER_LIKE as _MARKER_LIKE
from digest.render.cards import MAX_OVERVIEW as MAX_OVERVIEW
from digest.render.cards import MAX_TITLE as MAX_TITLE
from digest.render.cards import card
from digest.render.cards import clean as clean
from digest.render.compiler import Compiler, shared_compiler
from digest.render.environment import environment, line_template, render_template
from digest.render.labels import MONTHS, period_label
from digest.render.lint import lint
from digest.render.note import Note
from digest.render.wire import CLIP_BUDGET, html_part_size

#: Trim the review list when the HTML part, encoded as sent, would pass this many bytes.
TRIM_AT = CLIP_BUDGET
_INLINE_STYLE = re.compile(r'<mj-style\s+inline="inline"\s*>(.*?)</mj-style>', re.S | re.I)


# ---------------------------------------------------------------------------------------------
# What templates see
# ---------------------------------------------------------------------------------------------


def pick_of(reviews: Sequence[Review]) -> Review | None:
    """The best-graded review; the first in list order wins a tie."""
    graded = [r for r in reviews if r.grade is not None]
    return max(graded, key=lambda r: r.grade.rank if r.grade else -1) if graded else None


def _context(
    config: Config,
    period: Period,
    reviews: Sequence[Review],
    markers: Markers,
    more: int,
    now: datetime,
    note: Note | None = None,
) -> dict[str, Any]:
    news = config.newsletter
    today = now.astimezone(news.tz).date()
    pick = pick_of(reviews)
    cards = [card(r) for r in reviews]
    if pick is not None:  # the pick leads the list, the others keep their order
        at = reviews.index(pick)
        cards.insert(0, cards.pop(at))
    return {
        "newsletter": {
            "title": clean(news.title),
            "base_url": news.base_url,
            "postal_address": clean(news.postal_address),
        },
        "period": {"key": period.key, "label": period_label(period, news.tz)},
        "period_noun": NOUNS[config.schedule.cadence],
        "today": f"{today.day} {MONTHS[today.month - 1]} {today.year}",
        "reviews": cards,
        "pick": cards[0] if pick is not None else None,
        "more": {"count": more, "url": news.base_url},
        "archive_url": f"{news.base_url}/issues/{period.key}",
        "archive_index_url": f"{news.base_url}/issues",
        "signup_url": f"{news.base_url}/subscribe" if config.signup is not None else "",
        "unsubscribe_url": markers.unsubscribe_url,
        "name": markers.name,
        "note": note.context() if note is not None else None,
        "greeting": markers.greeting,
    }


# ---------------------------------------------------------------------------------------------
# Jinja
# ---------------------------------------------------------------------------------------------


def _oneline_template(source: str, key: str, context: Mapping[str, Any]) -> str:
    try:
        rendered = line_template(source).render(context)
    except jinja2.TemplateError as e:
        raise RenderError(f"config newsletter.{key}: {e}; fix the template in config.yaml") from e
    except (RecursionError, ArithmeticError, LookupError, TypeError, ValueError,
            AttributeError) as e:  # fmt: skip
        raise RenderError(
            f"config newsletter.{key}: {type(e).__name__}: {e}; fix the template in config.yaml"
        ) from e
    return " ".join(clean(rendered).split())


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

Timings = dict[str, float]


def _render_once(
    config: Config,
    context: dict[str, Any],
    env: SandboxedEnvironment,
    compiler: Compiler,
    timings: Timings,
) -> tuple[str, str, str, str]:
    """(subject, preheader, html, text) for the reviews in ``context`` (``_context``)."""
    started = time.perf_counter()
    subject = _oneline_template(config.newsletter.subject, "subject", context) or clean(
        config.newsletter.title
    )
    preheader = _oneline_template(config.newsletter.preheader, "preheader", context)
    context.update(subject=subject, preheader=preheader)
    stem = "digest" if context["reviews"] else "quiet"
    mjml = render_template(env, f"{stem}.mjml.j2", context)
    inline_css = "\n".join(_INLINE_STYLE.findall(mjml))
    mjml = _INLINE_STYLE.sub("", mjml)
    jinja_done = time.perf_counter()
    compiler.send(mjml, inline_css)
    # The text part is made here while the child compiles the HTML.
    text = render_template(env, f"{stem}.txt.j2", context)
    text = "\n".join(line.rstrip() for line in _CONTROL.sub("", text).splitlines()).strip() + "\n"
    text_done = time.perf_counter()
    compiled = compiler.receive()
    for stage, seconds in (
        ("jinja", jinja_done - started),
        ("mjml", compiled.mjml_seconds),
        ("premailer", compiled.premailer_seconds),
        ("text", text_done - jinja_done),
    ):
        timings[stage] = timings.get(stage, 0.0) + seconds
    return subject, preheader, compiled.html, text


def _fitting_count(tries: list[tuple[int, int]]) -> int:
    """How many cards should fit under ``TRIM_AT``, from the (count, size) of earlier tries.

    The first guess charges every byte to the cards (too few dropped, never too many); later
    guesses use the measured size per card between the last two tries.
    """
    count, size = tries[-1]
    if len(tries) > 1 and tries[-2][0] > count:
        per_card = (tries[-2][1] - size) / (tries[-2][0] - count)
    else:
        per_card = size / count
    drop = math.ceil((size - TRIM_AT) / max(per_card, 1.0))
    return max(1, min(count - 1, count - drop))


def _notes(reviews: Sequence[Review], included: Sequence[Review]) -> list[str]:
    """What ``render_digest`` tells the editor beside the lint: trimming, images left out."""
    notes = []
    if len(included) < len(reviews):
        notes.append(
            f"trimmed to {len(included)} of {len(reviews)} reviews so Gmail does not clip "
            f"the message at 102 KB as sent; the other {len(reviews) - len(included)} are linked "
            "as more reviews on the site"
        )
    for review in included:
        if review.image is not None and not review.image.url.lower().startswith("https://"):
            notes.append(
                f"{review.title[:80]}: image {review.image.url[:80]} is not https; left out"
            )
    return notes


def render_digest(
    config: Config,
    period: Period,
    reviews: Sequence[Review],
    *,
    now: datetime,
    timings: Timings | None = None,
    window_start: datetime | None = None,
    note: Note | None = None,
) -> RenderedDigest:
    """Render the issue for ``period``; with no reviews, the short quiet-week note.

    ``now`` is when the issue is rendered (``today`` in templates). Whether an empty
    period is sent at all is the caller's decision (``newsletter.quiet_week``).
    ``timings``, when given, receives seconds per stage (jinja, mjml, premailer, text).
    ``window_start``: where selection really began, when it reached back before
    ``period.start`` for what the previous issue left out; the period label names it.
    ``note``: the editor's note (``render.note``), shown at the top.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    timings = {} if timings is None else timings
    markers = Markers.make()
    base = config.newsletter.base_url
    label_period = period
    if window_start is not None and window_start < period.start:
        label_period = dataclasses.replace(period, start=window_start)
    # The pick goes first so that trimming, which cuts from the end, never drops it.
    pick = pick_of(reviews)
    included = [pick, *(r for r in reviews if r is not pick)] if pick else list(reviews)
    env = environment(config)
    with shared_compiler() as compiler:
        context = _context(config, label_period, included, markers, 0, now, note)
        subject, preheader, html, text = _render_once(config, context, env, compiler, timings)
        tries = [(len(included), html_part_size(html, markers, base))]
        while tries[-1][1] > TRIM_AT and len(included) > 1:
            included = included[: _fitting_count(tries)]
            more = len(reviews) - len(included)
            context = _context(config, label_period, included, markers, more, now, note)
            subject, preheader, html, text = _render_once(config, context, env, compiler, timings)
            tries.append((len(included), html_part_size(html, markers, base)))
    notes = _notes(reviews, included)
    rendered = RenderedDigest(
        period=period,
        reviews=tuple(included),
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        markers=markers,
    )
    findings = lint(rendered, base, html_size=tries[-1][1])
    return dataclasses.replace(rendered, warnings=(*notes, *findings))


# ---------------------------------------------------------------------------------------------
# Neutral copies for the web archive and previews
# ---------------------------------------------------------------------------------------------

NEUTRAL_NAME = "reader"


def neutral_unsubscribe_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe"


def neutralise(html: str, markers: Markers, base_url: str) -> str:
    """Email HTML with placeholder recipient values instead of anyone's own: for the web
    archive, previews and ``build``. Any marker-shaped leftover (say, a stored marker list that
    missed one) is replaced too, so no marker ever reaches a page."""
    url = html_lib.escape(neutral_unsubscribe_url(base_url), quote=True)
    name = html_lib.escape(NEUTRAL_NAME, quote=True)
    # Issues rendered before the greeting marker began "Hello <name>, here are …": the
    # archive copy greets no one, so that opening loses its greeting too.
    html = html.replace(f"Hello {markers.name}, here", "Here").replace(f"Hello {markers.name}.", "")
    html = html.replace(markers.unsubscribe_url, url).replace(markers.name, name)
    if markers.greeting:  # the archive copy greets no one
        html = html.replace(markers.greeting, "")
    return _MARKER_LIKE.sub(lambda m: _neutral_value(m.group(0), url, name), html)


def _neutral_value(marker: str, url: str, name: str) -> str:
    kind = marker.lower()
    return url if kind.endswith("unsub") else "" if kind.endswith("greet") else name


def neutral_html(rendered: RenderedDigest, base_url: str) -> str:
    """The rendered HTML with placeholder recipient values (see ``neutralise``)."""
    return neutralise(rendered.html, rendered.markers, base_url)


def neutral_text(rendered: RenderedDigest, base_url: str) -> str:
    """The text part with the same placeholder values as ``neutral_html``."""
    markers = rendered.markers
    text = rendered.text.replace(f"Hello {markers.name}, here", "Here")
    text = text.replace(markers.unsubscribe_url, neutral_unsubscribe_url(base_url))
    text = text.replace(markers.name, NEUTRAL_NAME)
    return text.replace(markers.greeting, "") if markers.greeting else text


def empty_period_message(period: Period) -> str:
    """What to say when a period has no new reviews and no quiet-week note is configured."""
    return (
        f"no new reviews for {period.key}; nothing to send "
        "(set newsletter.quiet_week: true to send a short note instead)"
    )
