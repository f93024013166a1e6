"""Collect: read every configured source into ``Review``s, in parallel, one broken source
reported and skipped. Sources (``registry``), the guarded fetcher (``http``), the label table
(``fields``) and HTML sanitising (``sanitize``) live here, with what real sites need read:
grades where sites put them (``grades``), the overview (``overview``), the featured image
(``images``), dates and zones (``dates``), feed inheritance (``feedparts``), per-source
filters (``filters``, ``wpterms``)."""

from digest.collect.collection import Collection, collect

__all__ = ["Collection", "collect"]
