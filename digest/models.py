"""Plain, frozen data passed between stages.

Every class checks itself when built, so later stages trust what they are handed and never
re-check: a ``Review`` always has a non-empty single-line title, an aware ``published`` time and
a normalised ``Grade`` (or none). Text fields are *plain text* — sources turn any HTML they are
given into text before a ``Review`` exists, and the render stage escapes it again on output.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.errors import ReviewError

# ---------------------------------------------------------------------------------------------
# Grades
# ---------------------------------------------------------------------------------------------

#: The letter scale, worst to best; a grade's ``rank`` is its index here (F = 0, A+ = 12).
LETTERS: tuple[str, ...] = (
    "F", "D-", "D", "D+", "C-", "C", "C+", "B-", "B", "B+", "A-", "A", "A+",
)  # fmt: skip

_NUMBER = r"\d+(?:[.,]\d+)?"
_SCALE = r"(?:\s*(?:/|out\s+of)\s*(?P<scale>\d+|four|five|ten))?"
_WORD_SCALES = {"four": 4.0, "five": 5.0, "ten": 10.0}
#: Every way of writing a grade digest reads, tried in order on the whole text (one table:
#: the README's grade table is this one). Scores map onto the letters with ``_fraction_to_letter``.
GRADE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("letter", re.compile(r"(?P<letter>[A-DF])\s*(?P<mod>[+-]|plus|minus)?", re.I)),
    ("fraction", re.compile(rf"(?P<value>{_NUMBER})\s*(?:/|out\s+of)\s*(?P<scale>{_NUMBER})"
                            r"(?:\s*stars?)?", re.I)),
    ("percent", re.compile(rf"(?P<value>{_NUMBER})\s*%")),
    ("stars", re.compile(r"(?P<full>[★⭐*]*)\s*(?P<half>½|1/2)?\s*[☆✩]*" + _SCALE, re.I)),
    ("star count", re.compile(rf"(?P<value>{_NUMBER}|\d*½)\s*(?P<half>½)?\s*stars?" + _SCALE,
                              re.I)),
)  # fmt: skip
_HALF = "½"
#: "★ ★ ★ ½" is one star run.
_STAR_GAPS = re.compile(r"(?<=[★⭐☆✩*½])\s+(?=[★⭐☆✩*½])")


def _number(text: str) -> float:
    text = text.replace(",", ".")
    if text.endswith(_HALF):
        return float(text[:-1] or 0) + 0.5
    return _WORD_SCALES.get(text.casefold()) or float(text)


def _score(form: str, m: re.Match[str]) -> tuple[float, float] | None:
    """``(value, scale)`` of a matched score form; ``None`` when it is no grade at all."""
    groups = m.groupdict()
    scale = (
        _number(groups["scale"]) if groups.get("scale") else (100.0 if form == "percent" else 5.0)
    )
    if form == "stars":
        full, half = groups["full"], groups["half"]
        if not full and not half:
            return None
        value = len(full) + (0.5 if half else 0.0)
    else:
        value = _number(groups["value"]) + (0.5 if groups.get("half") else 0.0)
    if scale <= 0 or value > scale:
        return None
    return value, scale


def _fraction_to_letter(fraction: float) -> str:
    """Map a score in [0, 1] linearly onto the 13 steps of the letter scale.

    ``round(fraction * 12)`` picks the step: 5/5 → A+, 4.5/5 → A, 4/5 → A-, 3.5/5 → B,
    3/5 → B-, 2.5/5 → C+, 2/5 → C, 1/5 → D, 0/5 → F; 8/10 → A-, 7/10 → B, 5/10 → C+.
    """
    fraction = min(max(fraction, 0.0), 1.0)
    return LETTERS[round(fraction * (len(LETTERS) - 1))]


@dataclass(frozen=True, slots=True)
class Grade:
    """A normalised letter grade, A+ … F, with the text it was read from."""

    letter: str
    raw: str

    def __post_init__(self) -> None:
        if self.letter not in LETTERS:
            raise ReviewError(f"grade {self.letter!r} is not one of {', '.join(LETTERS)}")

    @property
    def rank(self) -> int:
        """F = 0 … A+ = 12: higher is better."""
        return LETTERS.index(self.letter)

    @property
    def band(self) -> str:
        """The colour band a badge uses: the bare letter ("A", "B", "C", "D" or "F")."""
        return self.letter[0]

    def __str__(self) -> str:
        return self.letter

    @classmethod
    def parse(cls, text: str) -> Grade | None:
        """Read a grade from what a reviewer wrote; ``None`` when nothing is recognisable.

        Accepted (``GRADE_FORMS``): letters (``A+``, ``b minus``), fractions (``3.5/5``,
        ``8/10``, ``7 out of 10``, ``4/5 stars``), percentages (``85%``), star runs (``★★★½☆``,
        ``****``, ``***1/2``, ``½``; out of five unless ``out of 4`` / ``/4`` follows) and star
        counts (``3.5 stars``, ``3½ stars``).
        """
        raw = " ".join(text.replace("\ufe0f", "").split())
        # "Rating: B+." — a sentence-final full stop is not part of the grade.
        raw = raw.removesuffix(".") if not raw.endswith("..") else raw
        if not raw:
            return None
        text = _STAR_GAPS.sub("", raw)
        for form, pattern in GRADE_FORMS:
            m = pattern.fullmatch(text)
            if m is None:
                continue
            if form == "letter":
                letter = m.group("letter").upper()
                mod = (m.group("mod") or "").lower()
                mod = "" if letter == "F" else {"plus": "+", "minus": "-"}.get(mod, mod)
                return cls(letter + mod, raw)
            score = _score(form, m)
            return None if score is None else cls(_fraction_to_letter(score[0] / score[1]), raw)
        return None


# ---------------------------------------------------------------------------------------------
# Review parts
# ---------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Collapse every kind of whitespace, line breaks included, into single spaces."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Image:
    """A featured image: an absolute http(s) URL, its alt text and the image credit."""

    url: str
    alt: str = ""
    credit: str = ""
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "alt", _one_line(self.alt))
        object.__setattr__(self, "credit", _one_line(self.credit))
        try:
            scheme = urlsplit(self.url).scheme.lower()
        except ValueError:  # an unbalanced IPv6 bracket
            scheme = ""
        if scheme not in ("http", "https") or any(c in self.url for c in "\r\n\t <>\"'"):
            raise ReviewError(f"image URL {self.url[:80]!r} is not an absolute http(s) URL")


@dataclass(frozen=True, slots=True)
class Facts:
    """The facts line after the overview: ``Network; Year; Certificate; Runtime.``"""

    raw: str
    network: str | None = None
    year: int | None = None
    certificate: str | None = None
    runtime: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", _one_line(self.raw))


@dataclass(frozen=True, slots=True)
class Section:
    """A titled section of the review body; ``text`` holds paragraphs split by blank lines."""

    heading: str
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "heading", _one_line(self.heading))

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.text.split("\n\n") if p.strip())


#: Publication years a review may carry; year 1 or 9999 overflows in a timezone conversion.
MIN_YEAR, MAX_YEAR = 1900, 9000

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref)$", re.I)


def canonical_link(url: str) -> str:
    """The form of a link used to recognise the same review from two sources.

    Lower-cased scheme and host, ``http`` treated as ``https``, no fragment, no tracking
    parameters, no trailing slash.
    """
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, query, ""))


def _digest(basis: str) -> str:
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Review:
    """One review, whatever source it came from.

    ``id`` is stable across runs: a hash of the canonical link when there is one, otherwise of
    the source name and the source's own key for the entry (a file path, a GUID).

    ``identities`` holds every name the review goes by: the hash of its canonical link and the
    hash of its source and ``guid`` (the id the source itself gives the entry: an RSS guid, an
    Atom or JSON Feed id, a WordPress post id), plus ``id``. The ledger records them all, so a
    review keeps its identity when its link changes but its guid stays, and when its guid
    changes but its link stays. ``tags`` holds the entry's categories and tags as the source
    names them (for the per-source ``include`` / ``exclude`` filters).
    """

    title: str
    published: datetime
    source: str
    key: str
    link: str | None = None
    author: str = ""
    overview: str = ""
    facts: Facts | None = None
    sections: tuple[Section, ...] = ()
    verdict: str = ""
    grade: Grade | None = None
    image: Image | None = None
    guid: str | None = None
    tags: tuple[str, ...] = ()
    id: str = field(default="", init=False)
    identities: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        title = _one_line(self.title)
        if not title:
            raise ReviewError(f"{self.source}: {self.key}: the review has no title")
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "author", _one_line(self.author))
        object.__setattr__(self, "overview", _one_line(self.overview))
        if self.published.tzinfo is None or self.published.utcoffset() is None:
            raise ReviewError(f"{self.source}: {self.key}: published time has no timezone")
        if not MIN_YEAR <= self.published.year <= MAX_YEAR:
            # Year 1 or 9999 from a feed overflows as soon as it is moved to another timezone.
            raise ReviewError(
                f"{self.key}: published {self.published.isoformat()} is not a "
                f"real publication date (years {MIN_YEAR}–{MAX_YEAR}); the review was skipped"
            )
        if self.link is not None:
            try:
                scheme = urlsplit(self.link).scheme.lower()
            except ValueError:  # e.g. "https://[::1/x": an unbalanced IPv6 bracket
                scheme = ""
            if scheme not in ("http", "https") or any(c in self.link for c in "\r\n\t <>\"'"):
                object.__setattr__(self, "link", None)
        basis = canonical_link(self.link) if self.link else f"{self.source}\0{self.key}"
        object.__setattr__(self, "id", _digest(basis))
        names = {self.id}
        if self.guid:
            # The same basis as ``id`` for a link-less entry keyed by its guid, so ids recorded
            # before identities existed still match.
            names.add(_digest(f"{self.source}\0{self.guid}"))
        object.__setattr__(self, "identities", frozenset(names))

    @property
    def year(self) -> int | None:
        return self.facts.year if self.facts else None

    def without_guid(self) -> Review:
        """The same review known only by its link (for a guid the source gives several entries)."""
        return replace(self, guid=None)

    def fold_key(self) -> tuple[str, str]:
        """What makes two reviews the same when their links differ: title and year."""
        return (self.title.casefold(), str(self.year or ""))


# ---------------------------------------------------------------------------------------------
# Periods and selections
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open span ``[start, end)`` an issue covers, and its key (e.g. ``2026-W48``).

    The key names an issue in the ledger: one issue per key, whatever triggers it.
    """

    key: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs timezone-aware bounds")
        if not self.start < self.end:
            raise ValueError("a period must start before it ends")

    def __contains__(self, when: object) -> bool:
        return isinstance(when, datetime) and self.start <= when < self.end


#: Why a review was left out: the machine-readable half of ``Skipped``.
SkipKind = Literal[
    "outside-period", "future", "duplicate", "already-sent", "over-cap", "filtered", "other"
]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something left out of a digest, and why — shown by ``digest sources``.

    ``folded_into`` is the copy a duplicate was folded into (``kind == "duplicate"``).
    """

    title: str
    source: str
    reason: str
    kind: SkipKind = "other"
    folded_into: Review | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A source or entry that failed; reported, never fatal."""

    source: str
    message: str


@dataclass(frozen=True, slots=True)
class Markers:
    """Where per-recipient values go in a rendered digest.

    The digest is rendered once per issue; each recipient's copy is made by plain string
    replacement of these markers (HTML-escaped in the HTML part). Each marker carries a random
    nonce made at render time, so no text from a feed can contain one by accident or design.
    """

    unsubscribe_url: str
    name: str
    #: The whole greeting ("Hello Ada," or nothing); ``""`` in issues stored before it existed.
    greeting: str = ""

    @classmethod
    def make(cls) -> Markers:
        nonce = secrets.token_hex(8)
        return cls(
            unsubscribe_url=f"dgst{nonce}unsub",
            name=f"dgst{nonce}name",
            greeting=f"dgst{nonce}greet",
        )


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """One issue, rendered once: subject, preheader, final HTML and the plain-text part.

    ``html`` and ``text`` contain the ``markers`` wherever a recipient's own value belongs.
    ``warnings`` holds the pre-send lint findings (clipping size, missing alt, …).
    """

    period: Period
    reviews: tuple[Review, ...]
    subject: str
    preheader: str
    html: str
    text: str
    markers: Markers
    warnings: tuple[str, ...] = ()


def plural(count: int, noun: str) -> str:
    """``1 review``, ``2 reviews``: the one way a count is written in a message."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
