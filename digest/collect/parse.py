"""feedparser in a child process with a deadline, so no document can keep a run busy.

feedparser's parsers are pure Python and slow on some documents — a hundred thousand small
items, stray close tags in unescaped markup, deep nesting: a 10 MB feed can take minutes, and
a call can't be interrupted. So it runs in a child (``python -I -c``, importing only
feedparser, never this package's modules) that is killed when the source's
``http.total_timeout`` runs out. The child sends back feedparser's entries pickled; the
parent unpickles only feedparser's own dict and ``time.struct_time``.

A document of at most ``IN_PROCESS_BYTES`` is parsed in this process instead: at that size
even feedparser's worst cases take well under a second, less than starting the child.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import feedparser

from digest.collect.base import Deadline
from digest.collect.xmlguard import UTF8_XML
from digest.errors import SourceError

_CHILD = f"""
import io, pickle, sys
import feedparser
parsed = feedparser.parse(
    io.BytesIO(sys.stdin.buffer.read()),
    response_headers={{"content-type": {UTF8_XML!r}, "content-location": sys.argv[1]}},
    sanitize_html=False,  # nh3 sanitises every piece of HTML digest keeps
    resolve_relative_uris=False,
)
error = parsed.get("bozo_exception")
out = (list(parsed.entries), str(parsed.get("version") or ""), bool(parsed.get("bozo")),
       type(error).__name__ if error is not None else "", str(error or ""),
       parsed.get("feed") or {{}}, dict(parsed.get("namespaces") or {{}}))
sys.stdout.buffer.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
"""
#: Documents up to this size are parsed in this process (most feeds are smaller).
IN_PROCESS_BYTES = 256 * 1024
_ALLOWED = frozenset({("feedparser.util", "FeedParserDict"), ("time", "struct_time")})


@dataclass(frozen=True, slots=True)
class Parsed:
    """What feedparser made of a document: its entries, and the error it noted, if any."""

    entries: list[Any]
    version: str
    bozo: bool
    error_type: str
    error: str
    #: The feed-level elements (title, author …) and the namespaces it declared.
    feed: Any
    namespaces: dict[str, str]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a parsed feed")
        return super().find_class(module, name)


def parse_feed(data: bytes, location: str, deadline: Deadline) -> Parsed:
    """feedparser's reading of UTF-8 ``data``; the deadline's error when it runs out first."""
    if len(data) <= IN_PROCESS_BYTES:
        return _parse_here(data, location)
    argv = [sys.executable, "-I", "-c", _CHILD, location]
    try:
        done = subprocess.run(
            argv, input=data, capture_output=True, timeout=deadline.remaining(), check=False
        )
    except subprocess.TimeoutExpired:
        raise deadline.expired() from None
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise SourceError(deadline.label, f"the feed parser failed ({last[:200]})")
    return Parsed(*_Unpickler(io.BytesIO(done.stdout)).load())


def _parse_here(data: bytes, location: str) -> Parsed:
    """What the child does, in this process (for small documents)."""
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": UTF8_XML, "content-location": location},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    error = parsed.get("bozo_exception")
    return Parsed(
        list(parsed.entries),
        str(parsed.get("version") or ""),
        bool(parsed.get("bozo")),
        type(error).__name__ if error is not None else "",
        str(error or ""),
        parsed.get("feed") or {},
        dict(parsed.get("namespaces") or {}),
    )
