"""The labelled review format, read through one table (like Pelican's ``METADATA_PROCESSORS``).

A review body is plain text: paragraphs separated by blank lines. A paragraph that opens with a
*label* — a short heading and a colon — starts a field::

    Overview: One-sentence summary. Netflix; 2017; Not Rated; varying runtimes.

    Behind Closed Doors: First paragraph of a section …

    A following paragraph without a label belongs to the same section.

    Overall: The verdict.

    Rating: A

    Featured Image: Netflix

``BODY_LABELS`` says what each known label means; any other label opens a ``Section``. A label
is at most six words, starts with a capital letter, has no sentence punctuation, and is written
in title case (every word but a short joining word like "of" or "the" is capitalised), so an
ordinary sentence that happens to hold a colon ("Here's the thing: …") never starts a section.

Every source uses this module: the folder source on file text, the feed and WordPress sources
on entry HTML after sanitising and converting it to text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from typing import Literal

from digest.models import LETTERS, Facts, Grade, Section

Field = Literal["overview", "verdict", "grade", "credit"]

#: Known body labels (compared case-insensitively) and the field each one fills.
BODY_LABELS: dict[str, Field] = {
    "overview": "overview",
    "summary": "overview",
    "overall": "verdict",
    "verdict": "verdict",
    "the verdict": "verdict",
    "rating": "grade",
    "grade": "grade",
    "featured image": "credit",
    "image credit": "credit",
}

#: Words that may stay lower-case inside a title-case label.
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "nor", "of", "off"}
    | {"on", "or", "over", "per", "the", "to", "vs", "via", "with"}
)
#: Stand-alone marks a heading may use between words ("Part One – The Plan", "Sound & Vision").
_JOINERS = frozenset({"-", "–", "—", "&", "+"})
_MAX_LABEL_WORDS = 6
#: ``Label: text`` at the very start of a paragraph; emphasis markers (``**Label:**``) allowed.
_LABEL_RE = re.compile(
    r"^(?:\*\*|__)?(?P<label>[A-Z][^\n:]{0,60}?)(?:\*\*|__)?\s*:(?:\*\*|__)?(?:\s+|$)(?P<rest>.*)\Z",
    re.DOTALL,
)
_MARKDOWN_HEADING_RE = re.compile(r"^#{1,6}\s+(?P<label>.+?)\s*#*\s*\Z", re.DOTALL)
_SENTENCE_PUNCTUATION = set('.,;!?"“”()[]{}<>|/\\=')
#: Where a sentence may end: after . ! ? (and a closing quote), or at a line break.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"'”’)]?\s+|\n+")
_YEAR_RE = re.compile(r"(?P<year>(?:18|19|20)\d\d)(?:\s*[-–—/]\s*(?:(?:18|19|20)?\d\d|present))?")
_RUNTIME_RE = re.compile(
    r"\d+\s*(?:h|hr|hrs|hours?|m|mins?|minutes?)\b|runtimes?|episodes?|\bmins?\b", re.IGNORECASE
)
_MAX_FACT_WORDS = 6


@dataclass(frozen=True, slots=True)
class ReviewFields:
    """What the labelled paragraphs of one review said.

    ``labels`` lists the labels recognised, in order; an empty tuple means the text had no
    recognisable field at all (callers report that and skip the entry). ``warnings`` holds
    problems with single fields, such as a rating that is not a grade.
    """

    overview: str = ""
    facts: Facts | None = None
    sections: tuple[Section, ...] = ()
    verdict: str = ""
    grade: Grade | None = None
    grade_raw: str = ""
    credit: str = ""
    labels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.labels)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its line breaks kept and edges trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


def split_label(paragraph: str) -> tuple[str, str] | None:
    """``(label, rest)`` when the paragraph opens with a label, else ``None``."""
    m = _MARKDOWN_HEADING_RE.match(paragraph)
    if m and "\n" not in paragraph:
        label = m.group("label").strip("*_ ").rstrip(":")
        return (label, "") if is_label(label) else None
    m = _LABEL_RE.match(paragraph)
    if not m:
        return None
    label = m.group("label").strip()
    return (label, m.group("rest").strip()) if is_label(label) else None


def is_label(label: str) -> bool:
    """Whether ``label`` reads as a heading rather than the start of a sentence."""
    if BODY_LABELS.get(label.casefold()):
        return True
    words = label.split()
    if not words or len(words) > _MAX_LABEL_WORDS or not label[0].isupper():
        return False
    if any(c in _SENTENCE_PUNCTUATION for c in label):
        return False
    return all(
        w[0].isupper() or w[0].isdigit() or w.casefold() in _SMALL_WORDS or w in _JOINERS
        for w in words
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _block(texts: list[str]) -> str:
    """Paragraphs joined by blank lines, each paragraph's own line breaks folded to spaces."""
    return "\n\n".join(_one_line(t) for t in texts if t.strip())


def parse_facts(text: str) -> Facts | None:
    """Read ``Network; Year; Certificate; Runtime`` when ``text`` is such a line, else ``None``.

    It must have at least two ``;``-separated parts, each a few words, one of them a 4-digit
    year. The part before the year is the network, the part that reads as a runtime ("58 min",
    "varying runtimes", "6 episodes") is the runtime, and what remains is the certificate.
    """
    raw = _one_line(text)
    parts = [p.strip() for p in raw.rstrip(".").split(";")]
    if len(parts) < 2 or any(not p or len(p.split()) > _MAX_FACT_WORDS for p in parts):
        return None
    if any(_SENTENCE_END_RE.search(p) for p in parts[:-1]):  # a summary sentence ran into it
        return None
    year_at = next((i for i, p in enumerate(parts) if _YEAR_RE.fullmatch(p)), None)
    if year_at is None:
        return None
    year_match = _YEAR_RE.fullmatch(parts[year_at])
    assert year_match is not None
    rest = [(i, p) for i, p in enumerate(parts) if i != year_at]
    runtime_at = next((i for i, p in reversed(rest) if i > year_at and _RUNTIME_RE.search(p)), None)
    network = "; ".join(p for i, p in rest if i < year_at) or None
    certificate = "; ".join(p for i, p in rest if i > year_at and i != runtime_at) or None
    return Facts(
        raw=raw,
        network=network,
        year=int(year_match.group("year")),
        certificate=certificate,
        runtime=parts[runtime_at] if runtime_at is not None else None,
    )


def split_overview(text: str) -> tuple[str, Facts | None]:
    """Split an overview into its summary and the trailing facts line, if it has one.

    The facts line is the longest tail of whole sentences that reads as facts, so a runtime
    such as "1 hr. 20 min." does not cut it short, and a summary sentence never joins it.
    """
    text = text.strip()
    starts = [0, *(m.end() for m in _SENTENCE_END_RE.finditer(text))]
    for start in starts:  # earliest start first: the longest tail wins
        facts = parse_facts(text[start:])
        if facts is not None:
            return _one_line(text[:start]), facts
    return _one_line(text), None


def _grade(raw: str) -> tuple[Grade | None, str | None]:
    grade = Grade.parse(raw)
    if grade is None:
        return None, (
            f"rating {raw!r} is not a grade; write a letter ({LETTERS[-1]} … {LETTERS[0]}), "
            "a score such as 3.5/5 or 8/10, a percentage or stars"
        )
    return grade, None


def _misspelt(label: str) -> list[str]:
    """A label one slip away from a known one (``Overveiw``, ``Ratng``) reads as a section
    heading, and the field stays empty: say which label was meant."""
    close = difflib.get_close_matches(label.casefold(), BODY_LABELS, n=1, cutoff=0.8)
    if not close:
        return []
    meant = close[0].capitalize()
    return [f"'{label}:' is not a known label, so it opened a section; did you mean '{meant}:'?"]


def parse_review_text(text: str) -> ReviewFields:
    """Read the labelled paragraphs of one review body (plain text) into ``ReviewFields``.

    Paragraphs without a label continue the field before them: more text for a section or
    the verdict; after the overview, a facts line if there was none yet. Text with no section
    to belong to (before the first label, or after a one-line field such as ``Rating:``) opens
    a section with an empty heading, so nothing a reviewer wrote is dropped.
    """
    reading = _Reading()
    for para in paragraphs(text):
        found = split_label(para)
        if found is None:
            reading.continued(para)
        else:
            reading.labelled(*found)
    return reading.fields()


class _Reading:
    """The fields of one review body as its paragraphs are read, in order."""

    def __init__(self) -> None:
        self.overview = self.credit = self.grade_raw = ""
        self.facts: Facts | None = None
        self.grade: Grade | None = None
        self.labels: list[str] = []
        self.warnings: list[str] = []
        self.sections: list[tuple[str, list[str]]] = []
        self.verdict: list[str] = []
        self.open: str | None = None  # "overview", "verdict", "section" or None

    def continued(self, para: str) -> None:
        """A paragraph without a label: it belongs to the field that is open."""
        if self.open == "overview" and self.facts is None and (f := parse_facts(para)):
            self.facts = f
        elif self.open == "verdict":
            self.verdict.append(para)
        elif self.open == "section":
            self.sections[-1][1].append(para)
        else:
            self.sections.append(("", [para]))
            self.open = "section"

    def labelled(self, label: str, rest: str) -> None:
        self.labels.append(label)
        field = BODY_LABELS.get(label.casefold())
        self.open = field if field in ("overview", "verdict") else None
        if field == "overview":
            self.overview, self.facts = split_overview(rest)
        elif field == "verdict":
            self.verdict = [rest] if rest else []
        elif field == "grade":
            self.grade_raw = _one_line(rest)
            self.grade, warning = _grade(self.grade_raw)
            self.warnings.extend([warning] if warning else [])
        elif field == "credit":
            self.credit = _one_line(rest)
        else:
            self.sections.append((label, [rest] if rest else []))
            self.open = "section"
            self.warnings.extend(_misspelt(label))

    def fields(self) -> ReviewFields:
        return ReviewFields(
            overview=self.overview,
            facts=self.facts,
            sections=tuple(Section(h, _block(ps)) for h, ps in self.sections if h or _block(ps)),
            verdict=_block(self.verdict),
            grade=self.grade,
            grade_raw=self.grade_raw,
            credit=self.credit,
            labels=tuple(self.labels),
            warnings=tuple(self.warnings),
        )


# ---------------------------------------------------------------------------------------------
# Header fields: the optional block at the top of a review file, and Markdown front matter
# ---------------------------------------------------------------------------------------------


def parse_date(value: object, tz: tzinfo) -> datetime:
    """An ISO 8601 (or RFC 2822) date or datetime; a naive one is read in ``tz``.

    Raises ``ValueError`` with a message that shows the accepted forms.
    """
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    else:
        text = _one_line(str(value))
        try:
            when = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                raise ValueError(
                    f"date {text!r} is not a date like 2026-11-18 or 2026-11-18 09:30"
                ) from None
    return (
        when
        if when.tzinfo is not None and when.utcoffset() is not None
        else when.replace(tzinfo=tz)
    )


def _text(value: object) -> object:
    return _one_line(str(value))


def _identity(value: object) -> object:
    return value


#: Header names (case-insensitive; ``_`` and ``-`` read as spaces) → (attribute, processor).
#: Dates are kept raw here and read with ``parse_date`` once the caller knows its timezone.
HEADER_PROCESSORS: dict[str, tuple[str, Callable[[object], object]]] = {
    "title": ("title", _text),
    "date": ("date", _identity),
    "published": ("date", _identity),
    "author": ("author", _text),
    "link": ("link", _text),
    "url": ("link", _text),
    "image": ("image", _text),
    "image url": ("image", _text),
    "image alt": ("image_alt", _text),
    "featured image": ("credit", _text),
    "image credit": ("credit", _text),
    "rating": ("rating", _text),
    "grade": ("rating", _text),
}

_HEADER_LINE_RE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z _-]{0,20}?)\s*:\s*(?P<value>.*)$")


def header_key(name: str) -> str | None:
    """The attribute a header or front-matter key fills, or ``None`` if it is not one."""
    entry = HEADER_PROCESSORS.get(re.sub(r"[_-]+", " ", name.strip()).casefold())
    return entry[0] if entry else None


def read_headers(items: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """Process header or front-matter values; ``(fields, names of unknown keys)``."""
    fields: dict[str, object] = {}
    unknown: list[str] = []
    for name, value in items.items():
        entry = HEADER_PROCESSORS.get(re.sub(r"[_-]+", " ", str(name).strip()).casefold())
        if entry is None:
            unknown.append(str(name))
        elif value is not None and str(value).strip():
            attribute, process = entry
            fields[attribute] = process(value)
    return fields, unknown


def split_header_block(text: str) -> tuple[dict[str, object], str]:
    """Take the optional header block off the top of a review file.

    The header block is the file's first paragraph when *every* line in it is ``Name: value``
    with a name from ``HEADER_PROCESSORS`` except the body labels (``Title:``, ``Date:``,
    ``Author:``, ``Link:``/``URL:``, ``Image:``, ``Image Alt:``). It ends at the first blank
    line. Anything else — such as an ``Overview:`` paragraph — means there is no header.
    """
    paras = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").lstrip("\ufeff \t\n"), maxsplit=1)
    lines = paras[0].strip().splitlines()
    items: dict[str, object] = {}
    for line in lines:
        m = _HEADER_LINE_RE.match(line.strip())
        name = m.group("name") if m else ""
        if not m or header_key(name) is None or name.strip().casefold() in BODY_LABELS:
            return {}, text
        items[name] = m.group("value")
    fields, _ = read_headers(items)
    return fields, paras[1] if len(paras) > 1 else ""
