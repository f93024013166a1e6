"""`digest build --out` somewhere it can't write: one line, exit 1."""

from __future__ import annotations

from pathlib import Path

from support.cli import assert_one_line_error, digest
from support.render_reviews import CONFIG_YAML, write_review_files

# ---------------------------------------------------------------------------------------------
# `digest build --out` somewhere it can't write
# ---------------------------------------------------------------------------------------------


def test_build_into_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    write_review_files(tmp_path / "reviews")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")

    # click refuses --out naming a file; a folder *under* a file can't be made at all
    result = digest(config, "build", "--out", str(blocker / "out"))

    assert_one_line_error(result, "can't write the build output", "--out")
