"""Collect: read every configured source into ``Review``s, in parallel, one broken source
reported and skipped. Sources (``registry``), the guarded fetcher (``http``), the label table
(``fields``) and HTML sanitising (``sanitize``) live here."""

from digest.collect.collection import Collection, collect

__all__ = ["Collection", "collect"]
