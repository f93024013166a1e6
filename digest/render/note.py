"""The editor's note: a Markdown file per issue (``notes/2026-W49.md``), shown at the top.

The note is the editor's own text, but it is treated like feed text all the same — it may be
pasted from anywhere: Markdown is rendered by markdown-it-py with raw HTML *off* (a ``<script>``
typed into the note is shown as text, never parsed), then sanitised by nh3 with a short
allow-list (paragraphs, emphasis, lists, quotes, headings, https/mailto links; no images, no
styles, no attributes but ``href``), and links get ``rel="noopener noreferrer"``. The text part
gets the note's own words: the Markdown source, cleaned of control characters and recipient
marker look-alikes (Markdown is meant to read as plain text).

Templates see ``note`` as ``{html, text}`` (``None`` without a note); the bundled ones include
``_note.mjml.j2`` / ``_note.txt.j2`` right after the greeting.

A note for an earlier period left in the folder (``notes/2026-W48.md`` while preparing
2026-W49) is flagged by the lint: it is not in this issue, and was probably meant to be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from digest.config import Config
from digest.errors import RenderError

#: A note is a paragraph or three; a file past this is a mistake (the wrong file given).
MAX_NOTE_BYTES = 20_000
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4"}
_HEADING = re.compile(r"<(/?)h1>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_MARKER_LIKE = re.compile(r"dgst[0-9a-f]{16}(?:unsub|name)", re.IGNORECASE)
_KEY = re.compile(r"^\d{4}-(?:W\d{2}|\d{2}|\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class Note:
    """A note rendered for the issue: sanitised ``html`` and plain ``text``."""

    html: str
    text: str
    path: Path

    def context(self) -> dict[str, object]:
        """What templates see as ``note``: ``html`` is already safe (``Markup``)."""
        return {"html": Markup(self.html), "text": self.text}  # noqa: S704 (sanitised by nh3)


def note_path(config: Config, key: str) -> Path:
    return config.notes / f"{key}.md"


def render_note(source: str, path: Path) -> Note | None:
    """The note from its Markdown ``source``; ``None`` when it is blank."""
    text = _MARKER_LIKE.sub("", _CONTROL.sub("", source.replace("\r\n", "\n"))).strip()
    if not text:
        return None
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    raw = _HEADING.sub(r"<\1h2>", md.render(text))  # the masthead is the one h1
    html = nh3.clean(
        raw,
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return Note(html=html.strip(), text=text, path=path)


def load_note(config: Config, key: str) -> Note | None:
    """Issue ``key``'s note from the notes folder, if there is one; a ``RenderError`` naming
    the file when it can't be read."""
    path = note_path(config, key)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RenderError(f"{path}: can't read the editor's note ({e.strerror})") from e
    return note_from_bytes(data, path)


def note_from_bytes(data: bytes, path: Path) -> Note | None:
    """The note in ``data`` (read from ``path``); a ``RenderError`` naming it when it is too
    long or not UTF-8."""
    if len(data) > MAX_NOTE_BYTES:
        raise RenderError(
            f"{path}: the editor's note is {len(data) // 1000} KB; keep it under "
            f"{MAX_NOTE_BYTES // 1000} KB (a note is a paragraph or three)"
        )
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RenderError(f"{path}: the editor's note is not UTF-8; save it as UTF-8") from e
    return render_note(source, path)


def leftover_notes(config: Config, key: str) -> list[str]:
    """Lint lines for notes of periods before ``key`` still in the folder."""
    if not config.notes.is_dir():
        return []
    found = []
    for path in sorted(config.notes.glob("*.md")):
        other = path.stem
        if _KEY.match(other) and len(other) == len(key) and other < key:
            found.append(
                f"note: {path.name} is for an earlier issue ({other}) and is not in {key}; "
                f"rename it to {key}.md if it is this issue's, or delete it"
            )
    return found
