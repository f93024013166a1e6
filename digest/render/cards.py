"""What one review's card shows, as plain strings for the templates.

``card(review)`` turns a ``Review`` into the dict a template sees (README, "Template
variables"): the title, byline, facts written as a person would, the overview, the verdict,
the grade with its band word, the image credit, and picture frames sized from the image's
declared width and height. Nothing here fetches an image: frames come from the dimensions the
source declared (WordPress media sizes, a feed's media:content, an ``<img>``'s attributes).

Every string is feed text made safe to place anywhere (``clean``): no control characters, no
marker look-alikes, lengths capped. The templates escape it again on output.
"""

from __future__ import annotations

import re
from typing import Any

from digest.models import Facts, Review
from digest.render.labels import facts_line, grade_label, grade_word

#: Caps on what one card shows, so one absurd review can't fill the message.
MAX_TITLE = 200
MAX_OVERVIEW = 600
MAX_SHORT = 200
#: The compact cards (every review but the pick) show the overview's first 100 characters
#: (cut at a word, with "…"), so a 20-review issue stays scannable on a phone; the pick shows
#: it whole (``MAX_OVERVIEW``). The verdict is shown whole on every card (up to 280).
MAX_COMPACT_OVERVIEW = 100
MAX_VERDICT = 280

#: The hero's frame (the pick of the week): 600 × 338, a film still's 16:9.
HERO_FRAME = (600, 338)
#: The compact cards' thumbnail frame: 120 × 90 (4:3) beside the text; every shape fits inside it.
THUMB_FRAME = (120, 90)

#: Control characters, line/paragraph separators, bidi overrides (which can make text read
#: differently from what it is) and BOMs: never wanted in a title or an overview.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
MARKER_LIKE = re.compile(r"dgst[0-9a-f]{16}(?:unsub|name|greet)", re.IGNORECASE)


def clean(text: str, limit: int | None = None) -> str:
    """Feed text made safe to place anywhere: no control characters, no marker look-alikes."""
    text = MARKER_LIKE.sub("", CONTROL.sub(" ", text))
    if limit is not None and len(text) > limit:
        cut = text[:limit]
        if " " in cut[limit // 2 :]:  # end on a word boundary when there is one nearby
            cut = cut.rsplit(" ", 1)[0]
        text = cut.rstrip(" ,;:.-") + "…"
    return text


def picture_box(width: int | None, height: int | None) -> tuple[int, int]:
    """The box a full-width picture is shown in (the templates before the hero design, and
    yours if they use ``image.box``): 600 px wide, or its own width when narrower; the height
    from its declared size, else 16:9; never taller than wide."""
    shown = min(600, width) if width and width > 0 else 600
    if width and height and width > 0 and height > 0:
        return shown, max(1, min(shown, round(shown * height / width)))
    return shown, round(shown * 9 / 16)


def fit(width: int | None, height: int | None, frame: tuple[int, int]) -> dict[str, Any]:
    """How a picture sits in a fixed frame: whole, centred, never stretched or enlarged.

    With the declared size: ``w`` × ``h`` pixels inside the frame (a portrait poster is as
    tall as the frame and narrower, a wide banner as wide and shorter), and ``pct``, its width
    as a percentage of the frame's, for fluid frames on phones. Without one: the frame itself,
    with ``cover`` set (the template crops with ``object-fit: cover`` where supported; Outlook
    keeps the width and the picture's own height).
    """
    fw, fh = frame
    if not (width and height and width > 0 and height > 0):
        return {"w": fw, "h": fh, "pct": 100.0, "frame_w": fw, "frame_h": fh, "cover": True}
    scale = min(fw / width, fh / height, 1.0)  # a small picture is never blown up
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    pct = round(100 * w / fw, 2)
    return {"w": w, "h": h, "pct": pct, "frame_w": fw, "frame_h": fh, "cover": False}


def _facts(facts: Facts | None) -> dict[str, Any]:
    if facts is None:
        return {"facts": "", "facts_raw": "", "network": "", "year": "", "certificate": "",
                "runtime": ""}  # fmt: skip
    return {
        "facts": clean(facts_line(facts), MAX_SHORT),
        "facts_raw": clean(facts.raw, MAX_SHORT),
        "network": clean(facts.network or "", MAX_SHORT),
        "year": str(facts.year or ""),
        "certificate": clean(facts.certificate or "", MAX_SHORT),
        "runtime": clean(facts.runtime or "", MAX_SHORT),
    }


def _image(review: Review) -> dict[str, Any] | None:
    image = review.image
    if image is None or not image.url.lower().startswith("https://"):
        return None
    return {
        "url": image.url,
        "alt": clean(image.alt or f"Still from {review.title}", MAX_SHORT),
        "credit": clean(image.credit, MAX_SHORT),
        "width": image.width,
        "height": image.height,
        "box": picture_box(image.width, image.height),
        "hero": fit(image.width, image.height, HERO_FRAME),
        "thumb": fit(image.width, image.height, THUMB_FRAME),
    }


def card(review: Review) -> dict[str, Any]:
    """The template's view of one review (see the README's variables)."""
    grade = review.grade
    overview = clean(review.overview, MAX_OVERVIEW)
    return {
        "id": review.id,
        "anchor": f"r-{review.id}",
        "title": clean(review.title, MAX_TITLE),
        "link": review.link or "",
        "author": clean(review.author, MAX_SHORT),
        "overview": overview,
        "short_overview": clean(overview, MAX_COMPACT_OVERVIEW),
        "verdict": clean(" ".join(review.verdict.split()), MAX_VERDICT),
        **_facts(review.facts),
        "grade": grade.letter if grade else "",
        "grade_label": grade_label(grade.letter) if grade else "",
        "grade_word": grade_word(grade.letter) if grade else "",
        "band": grade.band if grade else "",
        "image": _image(review),
    }
