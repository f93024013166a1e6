"""Where reviews come from: one class per source type, found through ``REGISTRY``.

Like Pelican's readers, each source is a small class with one job (see ``base.Source``); the
``type:`` of a ``sources:`` entry in config.yaml picks the class here — an explicit table, not a
walk over subclasses, so adding a source type is one import and one line.
"""

from __future__ import annotations

from digest.collect.base import Source, SourceResult
from digest.collect.feed import FeedSource
from digest.collect.folder import FolderSource
from digest.collect.wordpress import WordPressSource

REGISTRY: dict[str, type[Source]] = {
    "folder": FolderSource,
    "feed": FeedSource,
    "wordpress": WordPressSource,
}

__all__ = ["REGISTRY", "Source", "SourceResult"]
