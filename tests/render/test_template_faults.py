"""An operator's own template failing in plain Python is one line and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import assert_one_line_error, digest
from support.render_reviews import CONFIG_YAML, write_review_files

# ---------------------------------------------------------------------------------------------
# An operator's own template failing in plain Python: one line, exit 1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"{{ 1 / 0 }}", "ZeroDivisionError"),
        (b'{{ "a" + 1 }}', "TypeError"),
        (b"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
        (b"\xff\xfe{{ title }}", "UnicodeDecodeError"),
    ],
)
def test_a_broken_own_template_is_one_line_not_a_traceback(
    tmp_path: Path, source: bytes, expected: str
) -> None:
    write_review_files(tmp_path / "reviews")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.mjml.j2").write_bytes(source)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML + "templates: mine/\n", encoding="utf-8")

    result = digest(config, "build", "--out", str(tmp_path / "out"), "--since", "2026-01-01")

    assert_one_line_error(result, "digest.mjml.j2", expected)


def test_a_subject_template_failing_in_python_is_one_line(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(
        CONFIG_YAML.replace(
            "  base_url: https://nightshift.example.org\n",
            '  base_url: https://nightshift.example.org\n  subject: "{{ 1 / 0 }}"\n',
        ),
        encoding="utf-8",
    )

    result = digest(config, "build", "--out", str(tmp_path / "out"), "--since", "2026-01-01")

    assert_one_line_error(result, "newsletter.subject", "ZeroDivisionError")
