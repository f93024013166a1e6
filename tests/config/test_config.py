"""Loading config.yaml: defaults, path resolution, and an error naming file, key, line and fix."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from digest.config import FolderSettings, load_config
from digest.errors import ConfigError

BASE = """\
newsletter:
  title: Test Digest
  from: "Test <news@example.org>"
  base_url: https://example.org/
  timezone: Europe/Berlin
sources:
  - {type: folder, path: reviews/}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path))  # every message names the file first
    return caught.value


def test_a_minimal_config_gets_defaults_and_resolved_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.newsletter.base_url == "https://example.org"
    assert config.newsletter.sender_address == "news@example.org"
    assert (config.selection.days, config.selection.max_reviews) == (7, 20)
    assert config.selection.order == "newest"
    [source] = config.sources
    assert isinstance(source, FolderSettings)
    assert source.path == tmp_path / "reviews"  # relative to the config file, not the cwd
    assert config.state == tmp_path / "state" / "digest.sqlite3"
    assert config.smtp is None


def test_the_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    with pytest.raises(pydantic.ValidationError):
        config.selection = config.selection  # type: ignore[misc]


def test_the_bundled_config_loads() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml")
    assert config.sources[0].type == "folder"


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; pass --config PATH, set DIGEST_CONFIG"):
        load_config(tmp_path / "absent.yaml")


def test_an_empty_file(tmp_path: Path) -> None:
    assert "the file is empty" in str(load_error(tmp_path, "# nothing\n"))


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "selection: {days: 7\nstate: x\n")
    assert err.line is not None and err.line >= 8
    assert "YAML syntax error" in str(err)


def test_an_unknown_key_names_key_line_and_a_likely_spelling(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE.replace("  title: Test Digest", "  titel: Test Digest"))
    assert (err.key, err.line) == ("newsletter.titel", 2)
    assert str(err).endswith(
        "config.yaml:2: newsletter.titel: unknown key; did you mean title? check its spelling "
        "against the config reference in the README"
    )


def test_a_wrong_type_names_key_line_and_value(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "selection:\n  days: 7\n  max_reviews: lots\n")
    assert (err.key, err.line) == ("selection.max_reviews", 10)
    assert "got 'lots'" in str(err)


def test_an_out_of_range_value(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "selection: {days: 0}\n")
    assert (err.key, err.line) == ("selection.days", 8)
    assert "greater than or equal to 1" in str(err)


def test_an_invalid_cron(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "schedule:\n  cron: '61 * * * *'\n")
    assert (err.key, err.line) == ("schedule.cron", 9)
    assert "invalid cron expression '61 * * * *'" in str(err)
    assert 'use five fields, e.g. "0 8 * * mon"' in str(err)


def test_an_invalid_timezone(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE.replace("Europe/Berlin", "Mars/Olympus_Mons"))
    assert (err.key, err.line) == ("newsletter.timezone", 5)
    assert "use an IANA name such as Europe/London" in str(err)


def test_an_unknown_source_type(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "  - {type: rss, url: 'https://x.org/feed'}\n")
    assert (err.key, err.line) == ("sources.1", 8)
    assert "unknown source type 'rss'; use folder, feed or wordpress" in str(err)


def test_a_feed_url_must_be_http(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "  - {type: feed, url: 'file:///etc/passwd'}\n")
    assert err.key == "sources.1.url"
    assert "expected an http:// or https:// URL" in str(err)


def test_no_sources(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE.split("sources:")[0] + "sources: []\n")
    assert err.key == "sources"


def test_a_bad_from_address(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE.replace('"Test <news@example.org>"', "not an address"))
    assert err.key == "newsletter.from"
    assert 'expected an address like "Name <news@example.org>"' in str(err)


def test_a_password_in_the_file_is_refused(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "smtp: {host: mail.example.org, password: hunter2}\n")
    assert err.key == "smtp.password"
    assert "secrets never go in config.yaml" in str(err)
    assert "hunter2" not in str(err)


def test_plain_smtp_only_on_loopback(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "smtp: {host: mail.example.org, security: none}\n")
    assert err.key == "smtp" and "use starttls or ssl" in str(err)


def test_a_missing_password_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        BASE + "smtp: {host: mail.example.org, username: me, password_env: SMTP_PASSWORD}\n",
    )
    config = load_config(path)
    assert config.smtp is not None
    with pytest.raises(ConfigError) as caught:
        config.smtp.password(str(path))
    assert caught.value.key == "smtp.password_env"
    assert "environment variable SMTP_PASSWORD is not set; export it" in str(caught.value)
    monkeypatch.setenv("SMTP_PASSWORD", "from the environment")
    assert config.smtp.password(str(path)) == "from the environment"


def test_a_missing_templates_folder(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "templates: my-templates/\n")
    assert err.key == "templates"
    assert "does not exist; create it or remove the key" in str(err)
