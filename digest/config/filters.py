"""A source's ``include:`` / ``exclude:`` filters and its ``timezone:``, as config models."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator


def check_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {v!r}; use an IANA name such as Europe/London"
        ) from None
    return v


class SourceFilter(BaseModel):
    """``include:`` / ``exclude:`` of one source: categories or tags by slug, a title pattern.

    Slugs compare as WordPress makes them: lower case, runs of anything but letters and
    digits as one ``-`` ("Film Reviews" is ``film-reviews``). ``title`` is a regular
    expression searched case-insensitively in the title.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    categories: list[str] = []
    tags: list[str] = []
    title: str | None = None

    @field_validator("categories", "tags")
    @classmethod
    def _slugs(cls, v: list[str]) -> list[str]:
        slugs = [slugify(s) for s in v]
        if any(not s for s in slugs):
            raise ValueError("a category or tag slug can't be empty")
        return slugs

    @field_validator("title")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"{v!r} is not a regular expression ({e})") from None
        return v

    @property
    def title_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.title, re.IGNORECASE) if self.title else None

    @property
    def empty(self) -> bool:
        return not (self.categories or self.tags or self.title)


def slugify(text: str) -> str:
    """A category or tag name as its slug: ``Film Reviews`` → ``film-reviews``."""
    return re.sub(r"[^\w]+|_+", "-", text.strip().casefold()).strip("-")
