"""config.yaml files that must give one clear line — never a traceback, a hang or a guess."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import ConfigError

BASE = """\
newsletter:
  title: Test Digest
  from: "Test <news@example.org>"
  base_url: https://example.org/
sources:
  - {type: folder, path: reviews/}
"""


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message.removeprefix(str(path))


def test_twenty_thousand_nested_brackets(tmp_path: Path) -> None:
    # PyYAML composes recursively: this was a 3,000-line RecursionError traceback.
    message = load_error(tmp_path, BASE + "selection: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert message.startswith(":7: ") and "nested more than" in message


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    # 400 bytes that expand to 10^9 values when walked: minutes of CPU and gigabytes before.
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    started = time.monotonic()
    message = load_error(
        tmp_path,
        BASE + "sources_extra:\n" + "".join("  " + line + "\n" for line in bomb.splitlines()),
    )
    assert time.monotonic() - started < 5
    assert ":8: " in message and "anchors and aliases" in message


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (BASE + "selection: {days: 3}\nselection: {days: 9}\n", 8, "selection"),
        (BASE + "selection:\n  days: 3\n  days: 9\n", 9, "selection.days"),
        (BASE.replace("  title: Test Digest\n", "  title: A\n  title: B\n"), 3, "newsletter.title"),
    ],
    ids=["top-level", "nested", "first-section"],
)
def test_a_duplicate_key_is_an_error_naming_its_line(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(f":{line}: {key}: duplicate key")


def test_an_unknown_top_level_path_key(tmp_path: Path) -> None:
    # ``path`` is the one field digest fills in itself: the file's own was silently dropped.
    message = load_error(tmp_path, BASE + "path: /somewhere/else\n")
    assert message.startswith(":7: path: unknown key")
