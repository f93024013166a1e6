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
from digest.errors import RenderError
from digest.models import Markers, Period, RenderedDigest, Review
from digest.render.compiler import Compiler, shared_compiler
from digest.render.environment import environment, line_template, render_template
from digest.render.labels import MONTHS, period_label
from digest.render.lint import lint
from digest.render.wire import CLIP_BUDGET, html_part_size

#: Trim the review list when the HTML part, encoded as sent, would pass this many bytes.
TRIM_AT = CLIP_BUDGET
#: Caps on what one card shows, so one absurd review can't fill the message.
MAX_TITLE = 200
MAX_OVERVIEW = 600
MAX_SHORT = 200

_NOUNS = {1: "day", 7: "week", 14: "fortnight", 28: "month", 30: "month", 31: "month"}
#: Control characters, line/paragraph separators, bidi overrides (which can make text read
#: differently from what it is) and BOMs: never wanted in a title or an overview.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_MARKER_LIKE = re.compile(r"dgst[0-9a-f]{16}(?:unsub|name)", re.IGNORECASE)
_INLINE_STYLE = re.compile(r'<mj-style\s+inline="inline"\s*>(.*?)</mj-style>', re.S | re.I)


# ---------------------------------------------------------------------------------------------
# What templates see
# ---------------------------------------------------------------------------------------------


def clean(text: str, limit: int | None = None) -> str:
    """Feed text made safe to place anywhere: no control characters, no marker look-alikes."""
    text = _MARKER_LIKE.sub("", _CONTROL.sub(" ", text))
    if limit is not None and len(text) > limit:
        cut = text[:limit]
        if " " in cut[limit // 2 :]:  # end on a word boundary when there is one nearby
            cut = cut.rsplit(" ", 1)[0]
        text = cut.rstrip(" ,;:.-") + "…"
    return text


def picture_box(width: int | None, height: int | None) -> tuple[int, int]:
    """The box a picture is shown in: 600 px wide, or its own width when narrower (a 460 px
    picture is not stretched); the height from its declared size (the feed's or the ``<img>``
    attributes'), else 16:9 (a film still); never taller than wide (square), as
    ``object-fit: cover`` crops a taller poster rather than letting it fill a phone's screen."""
    shown = min(600, width) if width and width > 0 else 600
    if width and height and width > 0 and height > 0:
        return shown, max(1, min(shown, round(shown * height / width)))
    return shown, round(shown * 9 / 16)


def _card(review: Review) -> dict[str, Any]:
    image = review.image
    https_image = image is not None and image.url.lower().startswith("https://")
    return {
        "id": review.id,
        "title": clean(review.title, MAX_TITLE),
        "link": review.link or "",
        "author": clean(review.author, MAX_SHORT),
        "overview": clean(review.overview, MAX_OVERVIEW),
        "facts": clean(review.facts.raw, MAX_SHORT) if review.facts else "",
        "grade": review.grade.letter if review.grade else "",
        "band": review.grade.band if review.grade else "",
        "image": {
            "url": image.url,
            "alt": clean(image.alt or f"Still from {review.title}", MAX_SHORT),
            "credit": clean(image.credit, MAX_SHORT),
            "width": image.width,
            "height": image.height,
            "box": picture_box(image.width, image.height),
        }
        if image is not None and https_image
        else None,
    }


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
) -> dict[str, Any]:
    news = config.newsletter
    today = now.astimezone(news.tz).date()
    pick = pick_of(reviews)
    cards = [_card(r) for r in reviews]
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
        "period_noun": _NOUNS.get(config.selection.days, "issue"),
        "today": f"{today.day} {MONTHS[today.month - 1]} {today.year}",
        "reviews": cards,
        "pick": cards[0] if pick is not None else None,
        "more": {"count": more, "url": news.base_url},
        "archive_url": f"{news.base_url}/issues/{period.key}",
        "unsubscribe_url": markers.unsubscribe_url,
        "name": markers.name,
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
    compiled = compiler.compile(mjml, inline_css)
    text_started = time.perf_counter()
    text = render_template(env, f"{stem}.txt.j2", context)
    text = "\n".join(line.rstrip() for line in _CONTROL.sub("", text).splitlines()).strip() + "\n"
    done = time.perf_counter()
    for stage, seconds in (
        ("jinja", jinja_done - started),
        ("mjml", compiled.mjml_seconds),
        ("premailer", compiled.premailer_seconds),
        ("text", done - text_started),
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
) -> RenderedDigest:
    """Render the issue for ``period``; with no reviews, the short quiet-week note.

    ``now`` is when the issue is rendered (``today`` in templates). Whether an empty
    period is sent at all is the caller's decision (``newsletter.quiet_week``).
    ``timings``, when given, receives seconds per stage (jinja, mjml, premailer, text).
    ``window_start``: where selection really began, when it reached back before
    ``period.start`` for what the previous issue left out; the period label names it.
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
        context = _context(config, label_period, included, markers, 0, now)
        subject, preheader, html, text = _render_once(config, context, env, compiler, timings)
        tries = [(len(included), html_part_size(html, markers, base))]
        while tries[-1][1] > TRIM_AT and len(included) > 1:
            included = included[: _fitting_count(tries)]
            more = len(reviews) - len(included)
            context = _context(config, label_period, included, markers, more, now)
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
    return dataclasses.replace(rendered, warnings=(*notes, *lint(rendered, base)))


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
    html = html.replace(markers.unsubscribe_url, url).replace(markers.name, name)
    return _MARKER_LIKE.sub(lambda m: url if m.group(0).lower().endswith("unsub") else name, html)


def neutral_html(rendered: RenderedDigest, base_url: str) -> str:
    """The rendered HTML with placeholder recipient values (see ``neutralise``)."""
    return neutralise(rendered.html, rendered.markers, base_url)


def neutral_text(rendered: RenderedDigest, base_url: str) -> str:
    """The text part with the same placeholder values as ``neutral_html``."""
    markers = rendered.markers
    return rendered.text.replace(
        markers.unsubscribe_url, neutral_unsubscribe_url(base_url)
    ).replace(markers.name, NEUTRAL_NAME)


def empty_period_message(period: Period) -> str:
    """What to say when a period has no new reviews and no quiet-week note is configured."""
    return (
        f"no new reviews for {period.key}; nothing to send "
        "(set newsletter.quiet_week: true to send a short note instead)"
    )
