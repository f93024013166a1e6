"""The web: ``digest serve`` (unsubscribe, archive) and ``digest preview``."""
