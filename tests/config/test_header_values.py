"""A from / reply_to that passes parseaddr but can't be written into a header is a config error."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import assert_one_line_error, digest
from support.render_reviews import CONFIG_YAML, write_review_files

# ---------------------------------------------------------------------------------------------
# A from / reply_to that passes parseaddr but can't be written into a header
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply_to", "expected"),
    [
        ('"=?utf-8?q?=0D=0ABcc:_x@y.example?= <editor@example.org>"', "can't be written"),
        ('"Editor <editor@exämple.org>"', "xn--"),
    ],
    ids=["encoded-line-break", "non-ascii-domain"],
)
def test_a_reply_to_that_cannot_become_a_header_is_a_config_error(
    tmp_path: Path, reply_to: str, expected: str
) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(
        CONFIG_YAML.replace(
            '  reply_to: "editor@nightshift.example.org"\n', f"  reply_to: {reply_to}\n"
        ),
        encoding="utf-8",
    )
    assert "reply_to: " + reply_to in config.read_text(encoding="utf-8")

    result = digest(config, "build", "--out", str(tmp_path / "out"))

    assert_one_line_error(result, "config.yaml:", "newsletter.reply_to", expected)
