"""Configuration: ``config.yaml`` read once (``load``) into one frozen, validated ``Config``
(``schema``). Nothing else in digest sees the raw YAML."""

from digest.config.load import default_config_path, load_config, parse_config
from digest.config.schema import (
    BUNDLED_TEMPLATES,
    Config,
    Dkim,
    FeedSettings,
    FolderSettings,
    Http,
    Inbound,
    Newsletter,
    Schedule,
    Selection,
    Serve,
    Signup,
    Smtp,
    SourceConfig,
    SourceFilter,
    WordPressSettings,
    parse_duration,
    slugify,
)

__all__ = [
    "BUNDLED_TEMPLATES",
    "Config",
    "Dkim",
    "FeedSettings",
    "FolderSettings",
    "Http",
    "Inbound",
    "Newsletter",
    "Schedule",
    "Selection",
    "Serve",
    "Signup",
    "Smtp",
    "SourceConfig",
    "SourceFilter",
    "WordPressSettings",
    "default_config_path",
    "load_config",
    "parse_config",
    "parse_duration",
    "slugify",
]
