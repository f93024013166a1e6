"""The ``signup:`` and ``inbound:`` sections: defaults, and a bad value named by its key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, digest
from support.config import build_config, write_config_file

from digest.config import load_config
from digest.errors import ConfigError

INBOUND = {"host": "imap.example.org", "username": "bounces", "password_env": "IMAP_PASSWORD"}


def test_the_defaults(tmp_path: Path) -> None:
    config = build_config(tmp_path, signup={}, inbound=INBOUND)
    assert config.signup is not None and config.inbound is not None
    assert config.signup.welcome is False
    assert config.signup.confirm_period == timedelta(hours=48)
    assert config.inbound.soft_bounce_limit == 3
    assert config.inbound.soft_bounce_period == timedelta(days=30)


def test_a_window_and_a_welcome_are_read(tmp_path: Path) -> None:
    config = build_config(
        tmp_path, signup={"welcome": True},
        inbound={**INBOUND, "soft_bounce_window": "2w", "soft_bounce_limit": 5},
    )  # fmt: skip
    assert config.signup is not None and config.signup.welcome is True
    assert config.inbound is not None
    assert config.inbound.soft_bounce_period == timedelta(days=14)


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("inbound", "soft_bounce_window", "a month", "expected a duration such as"),
        ("inbound", "soft_bounce_window", "0d", "longer than nothing"),
        ("signup", "confirm_within", "0h", "longer than nothing"),
        ("signup", "welcome", "sometimes", "valid boolean"),
    ],
)
def test_a_bad_value_names_its_key(
    tmp_path: Path, section: str, key: str, value: str, says: str
) -> None:
    base = INBOUND if section == "inbound" else {}
    path = write_config_file(tmp_path, **{section: {**base, key: value}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == f"{section}.{key}"
    assert says in str(caught.value)
    assert_one_line_error(digest(path, "check"), f"{section}.{key}", says)


def test_a_section_without_a_mailbox_serves_stdin_and_imap_says_what_is_missing(
    tmp_path: Path,
) -> None:
    path = write_config_file(tmp_path, inbound={"soft_bounce_limit": 5})
    config = load_config(path)
    assert config.inbound is not None and config.inbound.host is None
    assert_one_line_error(digest(path, "inbound", "--imap"), "inbound.host: not set", "--imap")
    partial = write_config_file(tmp_path, inbound={"host": "imap.example.org"})
    assert_one_line_error(digest(partial, "inbound", "--imap"), "inbound.username: not set")
