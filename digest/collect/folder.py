"""The folder source: review files on disk, one review per file.

Which files
    Every ``*.txt``, ``*.md`` and ``*.markdown`` file directly inside the folder (not in
    sub-folders); hidden files (``.name``) and other extensions are ignored, so images or notes
    can live beside the reviews. Files over 2 MB are reported and skipped.

Encodings
    UTF-8 (a byte-order mark is removed); a file that is not valid UTF-8 is read as Windows-1252,
    the superset of Latin-1 that old editors save, falling back to Latin-1 for the five bytes
    Windows-1252 leaves undefined. Every byte sequence therefore reads as *some* text.

Text files (``.txt``)
    An optional header block, then the labelled body (see ``digest.fields``). The header block
    is the file's first paragraph when every line in it is ``Name: value`` with one of these
    names (case-insensitive): ``Title``, ``Date`` (or ``Published``), ``Author``, ``Link`` (or
    ``URL``), ``Image`` (the featured image URL) and ``Image Alt``. A blank line ends it. A file
    whose first paragraph is anything else — ``Overview: …`` for instance — has no header::

        Title: The Understudy
        Link: https://reel.example.org/reviews/the-understudy/
        Image: https://reel.example.org/images/the-understudy.jpg

        Overview: …

Markdown files (``.md``)
    YAML front matter between ``---`` lines with the same keys in lower case (``title``,
    ``date``, ``author``, ``link``/``url``, ``image``, ``image_alt``, and ``rating`` or
    ``featured_image`` when the body has no such label; other keys are ignored), then a body
    in the same labelled format (``**Overview:**`` and ``## Heading`` are understood too).

Title and date when the file does not give them
    The title comes from the file name: ``the-understudy.txt`` → "The Understudy" (a leading
    ``2026-11-20-`` is read as the date). The date is the file's modification time, so the
    bundled samples, which have no ``Date:``, fall inside the current window on a fresh clone.
    A date without a time zone is read in the source's ``timezone:``, else the newsletter's.

A file with no recognisable label (no ``Overview:``, ``Rating:`` or section heading) is
reported as a problem and skipped; so is an unreadable file. A rating that is not a grade or
an image URL that is not http(s) is reported, and the review is kept without it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import frontmatter
import httpx
import yaml

from digest import config as cfg
from digest.collect.base import SourceResult
from digest.collect.fields import (
    paragraphs,
    parse_date,
    parse_review_text,
    read_headers,
    split_header_block,
)
from digest.collect.overview import first_real_paragraph, shorten
from digest.errors import ReviewError, SourceError
from digest.models import Grade, Image, Problem, Review
from digest.state.db import Connection

SUFFIXES = frozenset({".txt", ".md", ".markdown"})
MAX_FILE_BYTES = 2_000_000
_DATE_PREFIX_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})[-_ ]+(?P<rest>.+)$")
_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "in",
        "nor",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "with",
    ]
)


class FolderSource:
    """Reads every review file in one folder."""

    def __init__(
        self,
        entry: cfg.FolderSettings,
        *,
        settings: cfg.Config,
        client: httpx.Client | None = None,
        conn: Connection | None = None,
    ) -> None:
        self.entry = entry
        self.settings = settings
        self.label = entry.label

    def collect(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None
    ) -> SourceResult:
        folder = self.entry.path
        if not folder.is_dir():
            raise SourceError(
                self.label,
                f"folder {folder} does not exist; create it or fix the path of this source "
                f"in {self.settings.path}",
            )
        reviews: list[Review] = []
        problems: list[Problem] = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                continue
            if not path.is_file():
                continue
            try:
                review, warnings = read_review_file(
                    path, source=self.label, tz=ZoneInfo(self.settings.source_timezone(self.entry))
                )
            except ReviewError as e:
                problems.append(Problem(self.label, str(e)))
                continue
            reviews.append(review)
            problems.extend(Problem(self.label, w) for w in warnings)
        return SourceResult(reviews=tuple(reviews), problems=tuple(problems))


def decode(data: bytes) -> str:
    """UTF-8 (BOM removed), else Windows-1252, else Latin-1 — see the module docstring."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def title_from_name(stem: str) -> str:
    """``the-understudy`` → "The Understudy"; short joining words stay lower-case."""
    words = re.split(r"[-_\s]+", stem.strip("-_ "))
    return " ".join(
        w if w.casefold() in _SMALL_WORDS and i else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
        if w
    )


def _read_text(path: Path) -> tuple[str, float]:
    """The file's text and modification time (read together: the file may change under us)."""
    try:
        stat = path.stat()
        size = stat.st_size
        if size > MAX_FILE_BYTES:
            raise ReviewError(
                f"{path}: the file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit "
                "for one review; split it or move it out of the folder"
            )
        return decode(path.read_bytes()), stat.st_mtime
    except OSError as e:
        raise ReviewError(
            f"{path}: can't read the file ({e.strerror}); check its permissions"
        ) from None


def _front_matter(path: Path, text: str) -> tuple[dict[str, object], str]:
    try:
        metadata, body = frontmatter.parse(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise ReviewError(
            f"{path}: the front matter is not valid YAML{where}; fix it or remove the "
            "lines between the --- markers"
        ) from None
    except ValueError as e:  # YAML that parses but can't be built: `date: 2026-02-30`
        raise ReviewError(
            f"{path}: the front matter has a value YAML can't read ({e}); fix it or quote it"
        ) from None
    if not isinstance(metadata, dict):
        raise ReviewError(f"{path}: the front matter must be key: value lines (title:, date:, …)")
    fields, _unknown = read_headers({str(k): v for k, v in metadata.items()})
    return fields, str(body)


def _dated(path: Path, header: dict[str, object], mtime: float, tz: tzinfo) -> tuple[str, datetime]:
    """The file's title stem and its date: ``Date:``, else a ``2026-11-20-`` name prefix,
    else the file's modification time."""
    stem = path.stem
    date_value: object = header.get("date")
    if m := _DATE_PREFIX_RE.match(stem):
        stem = m.group("rest")
        date_value = date_value or m.group("date")
    if date_value is None:
        return stem, datetime.fromtimestamp(mtime, tz=UTC)
    try:
        return stem, parse_date(date_value, tz)
    except ValueError as e:
        raise ReviewError(f"{path}: Date: {e}; fix the date or remove the line") from None


def _image(path: Path, header: dict[str, object], credit: str, warnings: list[str]) -> Image | None:
    """The featured image from ``Image:`` (or a URL given as the credit), with its credit."""
    credit = credit or str(header.get("credit", ""))
    image_url = str(header.get("image", ""))
    if not image_url and credit.lower().startswith(("http://", "https://")):
        image_url, credit = credit, ""
    if not image_url:
        return None
    try:
        return Image(url=image_url, alt=str(header.get("image_alt", "")), credit=credit)
    except ReviewError as e:
        warnings.append(f"{path}: Image: {e}; the review is listed without an image")
        return None


def read_review_file(path: Path, *, source: str, tz: tzinfo) -> tuple[Review, list[str]]:
    """Read one review file; ``(review, warnings)``. Raises ``ReviewError`` naming the file."""
    text, mtime = _read_text(path)
    if path.suffix.lower() == ".txt":
        header, body = split_header_block(text)
    else:
        header, body = _front_matter(path, text)
    fields = parse_review_text(body)
    if not fields.found:
        raise ReviewError(
            f"{path}: no Overview:, Rating: or sections found; start paragraphs with labels "
            "such as 'Overview: …', 'Overall: …' and 'Rating: A' (see samples/reviews/)"
        )
    warnings = [f"{path}: {w}" for w in fields.warnings]

    stem, published = _dated(path, header, mtime, tz)

    grade = fields.grade
    if grade is None and not fields.grade_raw and (rating := header.get("rating")):
        grade = Grade.parse(str(rating))
        if grade is None:
            warnings.append(f"{path}: rating {rating!r} is not a grade; use A+ … F or 3.5/5")

    image = _image(path, header, fields.credit, warnings)

    link = str(header.get("link", "")) or None
    if link and not link.lower().startswith(("http://", "https://")):
        warnings.append(f"{path}: Link: {link!r} is not an http(s) URL; the review has no link")
        link = None

    review = Review(
        title=str(header.get("title", "")) or title_from_name(stem),
        published=published,
        source=source,
        key=path.name,
        link=link,
        author=str(header.get("author", "")),
        overview=fields.overview or shorten(first_real_paragraph(paragraphs(body)), 400),
        facts=fields.facts,
        sections=fields.sections,
        verdict=fields.verdict,
        grade=grade,
        image=image,
    )
    return review, warnings
