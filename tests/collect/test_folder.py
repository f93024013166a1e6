"""The folder source on real files: headers, front matter, encodings, dates and bad files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.collect.base import SourceResult
from digest.collect.folder import FolderSource, decode, title_from_name
from digest.collect.registry import REGISTRY
from digest.config import Config, load_config
from digest.errors import SourceError
from digest.models import LETTERS, Review

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "reviews"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

BODY = """\
Overview: A courtroom drama told over a single lunch break. Lanternfly; 2026; 12; 88 min.

Order in Court: Tight, talky and well cast.

Overall: Worth an evening.

Rating: B
"""


def make_config(tmp_path: Path, folder: Path, *, timezone: str = "Europe/Berlin") -> Config:
    config = tmp_path / "config.yaml"
    config.write_text(
        "newsletter:\n"
        "  title: Test Digest\n"
        '  from: "Test <news@example.org>"\n'
        "  base_url: https://example.org\n"
        f"  timezone: {timezone}\n"
        "sources:\n"
        f"  - {{type: folder, path: {folder.name}, name: test folder}}\n",
        encoding="utf-8",
    )
    return load_config(config)


def read_folder(tmp_path: Path, folder: Path) -> SourceResult:
    config = make_config(tmp_path, folder)
    entry = config.sources[0]
    source = FolderSource(entry, settings=config)  # type: ignore[arg-type]
    return source.collect(now=NOW)


def by_title(result: SourceResult) -> dict[str, Review]:
    return {r.title: r for r in result.reviews}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "reviews"
    path.mkdir()
    return path


def test_the_registry_names_the_folder_source() -> None:
    assert REGISTRY["folder"] is FolderSource


def test_every_bundled_sample_reads_without_a_problem(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.yaml")
    source = FolderSource(config.sources[0], settings=config)  # type: ignore[arg-type]
    result = source.collect(now=NOW)

    assert result.problems == ()
    assert len(result.reviews) >= 10
    reviews = by_title(result)
    grades = {r.grade.letter for r in result.reviews if r.grade}
    assert {"A+", "F"} <= grades and len(grades) >= 10
    assert set(grades) <= set(LETTERS)
    assert any(r.grade is None for r in result.reviews)
    assert any(r.image is None for r in result.reviews)
    assert any(r.image is not None and not r.image.credit for r in result.reviews)
    for review in result.reviews:
        assert review.overview and review.facts is not None and review.facts.year
        assert review.sections and review.verdict
    # Latin-1, UTF-8 with BOM and Markdown front matter all read correctly.
    quiet = reviews["The Quiet Year"]
    assert quiet.facts is not None and quiet.facts.network == "Cinéma Dorée"
    assert quiet.image is not None and quiet.image.alt.endswith("in a café by a rainy window")
    dog = reviews["Dog Days in Duluth"]
    assert dog.link == "https://reel.example.org/reviews/dog-days-in-duluth/"  # BOM gone
    assert dog.grade is not None and dog.grade.raw == "★★☆☆☆"
    paper = reviews["Paper Satellites"]
    assert paper.author == "Priya Nandakumar"
    assert paper.grade is not None and paper.grade.letter == "B-"
    assert paper.image is not None and paper.image.credit == "Orbitline Studios"
    assert reviews["The Lighthouse Keeper's Daughter"].author == "Tomás Whitlow"


def test_a_text_file_with_a_header_block(folder: Path, tmp_path: Path) -> None:
    (folder / "lunch-break.txt").write_text(
        "Title: Lunch Break: The Verdict\n"
        "Date: 2026-11-20 18:30\n"
        "Author: Ada Critic\n"
        "URL: https://reel.example.org/reviews/lunch-break/\n"
        "Image: https://reel.example.org/images/lunch-break.jpg\n"
        "Image Alt: Jurors eating sandwiches\n"
        "\n" + BODY + "\nFeatured Image: Lanternfly\n",
        encoding="utf-8",
    )
    result = read_folder(tmp_path, folder)
    assert result.problems == ()
    [review] = result.reviews
    assert review.title == "Lunch Break: The Verdict"
    assert review.published == datetime(2026, 11, 20, 18, 30, tzinfo=BERLIN)  # newsletter zone
    assert review.author == "Ada Critic"
    assert review.link == "https://reel.example.org/reviews/lunch-break/"
    assert review.image is not None
    assert review.image.url == "https://reel.example.org/images/lunch-break.jpg"
    assert (review.image.alt, review.image.credit) == ("Jurors eating sandwiches", "Lanternfly")
    assert review.overview == "A courtroom drama told over a single lunch break."
    assert review.facts is not None and review.facts.runtime == "88 min"
    assert [s.heading for s in review.sections] == ["Order in Court"]
    assert review.verdict == "Worth an evening."
    assert review.grade is not None and review.grade.letter == "B"
    assert review.source == "test folder"
    assert review.key == "lunch-break.txt"


def test_title_from_the_file_name_and_date_from_its_modification_time(
    folder: Path, tmp_path: Path
) -> None:
    path = folder / "a-tale-of-two_kitchens.txt"
    path.write_text(BODY, encoding="utf-8")
    stamp = datetime(2026, 11, 22, 7, 15, tzinfo=UTC)
    os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    [review] = read_folder(tmp_path, folder).reviews
    assert review.title == "A Tale of Two Kitchens"
    assert review.published == stamp
    assert review.link is None and review.image is None


def test_a_date_prefix_in_the_file_name_is_the_date(folder: Path, tmp_path: Path) -> None:
    (folder / "2026-11-19-the-last-word.txt").write_text(BODY, encoding="utf-8")
    [review] = read_folder(tmp_path, folder).reviews
    assert review.title == "The Last Word"
    assert review.published == datetime(2026, 11, 19, tzinfo=BERLIN)


def test_markdown_with_front_matter(folder: Path, tmp_path: Path) -> None:
    (folder / "ignored-name.md").write_text(
        "---\n"
        "title: Front Matter Film\n"
        "date: 2026-11-21T10:00:00+00:00\n"
        "author: Mo Reviewer\n"
        "link: https://reel.example.org/reviews/front/\n"
        "image: https://reel.example.org/images/front.jpg\n"
        "image_alt: A poster\n"
        "featured_image: Studio Nine\n"
        "rating: 3.5/5\n"
        "tags: [drama]\n"
        "---\n\n"
        "**Overview:** Short and sharp. Studio Nine; 2026; 15; 90 min.\n\n"
        "## First Act\n\nIt starts well.\n\n**Overall:** Good.\n",
        encoding="utf-8",
    )
    result = read_folder(tmp_path, folder)
    assert result.problems == ()
    [review] = result.reviews
    assert review.title == "Front Matter Film"
    assert review.published == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert review.author == "Mo Reviewer"
    assert review.grade is not None and (review.grade.letter, review.grade.raw) == ("B", "3.5/5")
    assert review.image is not None
    assert (review.image.alt, review.image.credit) == ("A poster", "Studio Nine")
    assert review.sections[0].heading == "First Act"
    assert review.verdict == "Good."


def test_front_matter_with_a_plain_date(folder: Path, tmp_path: Path) -> None:
    (folder / "plain-date.md").write_text("---\ndate: 2026-11-21\n---\n" + BODY, encoding="utf-8")
    [review] = read_folder(tmp_path, folder).reviews
    assert review.published == datetime(2026, 11, 21, tzinfo=BERLIN)


def test_broken_front_matter_is_a_problem_naming_the_file(folder: Path, tmp_path: Path) -> None:
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n" + BODY, encoding="utf-8")
    (folder / "fine.txt").write_text(BODY, encoding="utf-8")
    result = read_folder(tmp_path, folder)
    assert [r.title for r in result.reviews] == ["Fine"]
    [problem] = result.problems
    assert "broken.md" in problem.message and "front matter is not valid YAML" in problem.message


def test_latin1_cp1252_and_bom_files(folder: Path, tmp_path: Path) -> None:
    latin = "Title: Café Society Redux\n\nOverview: Über-stylish. Arte; 2024; 12; 95 min.\n"
    (folder / "latin.txt").write_bytes(latin.encode("latin-1"))
    # Windows-1252 curly quotes (0x93 / 0x94) are not valid UTF-8 or printable Latin-1.
    (folder / "windows.txt").write_bytes(b"Overview: \x93Quoted\x94 and \x96 dashed.\n")
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbfTitle: Byte Order\n\n" + BODY.encode())
    reviews = by_title(read_folder(tmp_path, folder))
    assert reviews["Café Society Redux"].overview == "Über-stylish."
    assert reviews["Windows"].overview == "“Quoted” and – dashed."
    assert reviews["Byte Order"].grade is not None  # the header was found despite the BOM


def test_decode_never_fails() -> None:
    assert decode(bytes(range(256)))[:3] == "\x00\x01\x02"
    assert decode("naïve".encode()) == "naïve"


def test_a_file_with_no_recognisable_fields_is_reported_and_skipped(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "shopping-list.txt").write_text("eggs\n\nmilk: two pints\n", encoding="utf-8")
    (folder / "good.txt").write_text(BODY, encoding="utf-8")
    result = read_folder(tmp_path, folder)
    assert [r.title for r in result.reviews] == ["Good"]
    [problem] = result.problems
    assert problem.source == "test folder"
    assert "shopping-list.txt: no Overview:, Rating: or sections found" in problem.message
    assert "'Rating: A'" in problem.message  # the fix


def test_field_problems_keep_the_review(folder: Path, tmp_path: Path) -> None:
    (folder / "odd.txt").write_text(
        "Image: javascript:alert(1)\nLink: ftp://example.org/x\n\n"
        "Overview: A film.\n\nRating: two thumbs up\n",
        encoding="utf-8",
    )
    result = read_folder(tmp_path, folder)
    [review] = result.reviews
    assert review.image is None and review.link is None and review.grade is None
    messages = " | ".join(p.message for p in result.problems)
    assert "odd.txt: Image:" in messages and "without an image" in messages
    assert "odd.txt: Link: 'ftp://example.org/x' is not an http(s) URL" in messages
    assert "odd.txt: rating 'two thumbs up' is not a grade" in messages


def test_an_unreadable_date_skips_the_file(folder: Path, tmp_path: Path) -> None:
    (folder / "when.txt").write_text("Date: next Friday\n\n" + BODY, encoding="utf-8")
    result = read_folder(tmp_path, folder)
    assert result.reviews == ()
    assert "when.txt: Date: date 'next Friday' is not a date like" in result.problems[0].message


def test_other_files_are_ignored_and_big_files_refused(folder: Path, tmp_path: Path) -> None:
    (folder / "poster.jpg").write_bytes(b"\xff\xd8\xff")
    (folder / ".draft.txt").write_text(BODY, encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text(BODY, encoding="utf-8")
    (folder / "huge.txt").write_text(BODY + "x" * 2_100_000, encoding="utf-8")
    result = read_folder(tmp_path, folder)
    assert result.reviews == ()
    [problem] = result.problems
    assert "huge.txt" in problem.message and "over the 2,000,000-byte limit" in problem.message


def test_a_missing_folder_fails_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist; create it or fix the path"):
        read_folder(tmp_path, tmp_path / "nowhere")


def test_title_from_name() -> None:
    assert title_from_name("the-lord-of-the-flies") == "The Lord of the Flies"
    assert title_from_name("of_mice_and_men") == "Of Mice and Men"
