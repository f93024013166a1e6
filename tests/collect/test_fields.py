"""The labelled review format: labels, sections, the facts line, grades, credits, headers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.collect.fields import (
    is_label,
    parse_date,
    parse_facts,
    parse_review_text,
    split_header_block,
    split_overview,
)

SHARED = Path(os.environ.get("DIGEST_SHARED") or Path(__file__).resolve().parents[3] / "shared")
SHARED_SAMPLE = SHARED / "samples" / "the-confession-tapes.txt"

REVIEW = """\
Overview: A heist picture set inside a snowed-in ski lodge. Skyline Films; 2025; 15; 1 hr. 42 min.

Cold Open: The first ten minutes are wordless. Snow falls, a van pulls up.

A second paragraph with no label belongs to the opening section.

The Crew in Full: Six thieves, one safe, no signal. Here's the thing: it works.

Overall: Crisp and funny.

The ending lingers, too.

Rating: B+

Featured Image: Skyline Films / Jo Park
"""


def test_the_shared_sample_parses_into_every_field() -> None:
    if not SHARED_SAMPLE.is_file():
        pytest.skip("the shared sample is not present in this checkout")
    fields = parse_review_text(SHARED_SAMPLE.read_text(encoding="utf-8"))

    assert fields.overview.startswith("A seven-part documentary series examines cases")
    assert fields.overview.endswith("from all sides of the justice system.")
    assert fields.facts is not None
    assert fields.facts.network == "Netflix"
    assert fields.facts.year == 2017
    assert fields.facts.certificate == "Not Rated"
    assert fields.facts.runtime == "varying runtimes"
    assert [s.heading for s in fields.sections] == [
        "Behind Closed Doors",
        "Interrogation Technique",
    ]
    assert len(fields.sections[0].paragraphs) == 2
    assert len(fields.sections[1].paragraphs) == 2
    # The colon inside "worst-kept secret: Few things" stays in the text, not a new section.
    assert fields.sections[1].text.endswith("worst-kept secret: Few things are ever certain.")
    assert fields.verdict.startswith("By covering all sides of each story")
    assert fields.grade is not None and fields.grade.letter == "A"
    assert fields.grade_raw == "A"
    assert fields.credit == "Netflix"
    assert fields.found and not fields.warnings


def test_every_field_of_a_labelled_review() -> None:
    fields = parse_review_text(REVIEW)

    assert fields.overview == "A heist picture set inside a snowed-in ski lodge."
    assert fields.facts is not None
    assert (fields.facts.network, fields.facts.year, fields.facts.certificate) == (
        "Skyline Films",
        2025,
        "15",
    )
    assert fields.facts.runtime == "1 hr. 42 min"  # a full stop inside the runtime is kept
    assert [s.heading for s in fields.sections] == ["Cold Open", "The Crew in Full"]
    assert fields.sections[0].paragraphs == (
        "The first ten minutes are wordless. Snow falls, a van pulls up.",
        "A second paragraph with no label belongs to the opening section.",
    )
    assert (
        fields.sections[1].text == "Six thieves, one safe, no signal. Here's the thing: it works."
    )
    assert fields.verdict == "Crisp and funny.\n\nThe ending lingers, too."
    assert fields.grade is not None and fields.grade.letter == "B+"
    assert fields.credit == "Skyline Films / Jo Park"
    assert fields.labels == (
        "Overview",
        "Cold Open",
        "The Crew in Full",
        "Overall",
        "Rating",
        "Featured Image",
    )


@pytest.mark.parametrize(
    "paragraph",
    [
        "Here's the thing: the sequel is better.",
        "In short: no.",
        "The director said it best: less is more.",
        "She had one rule, and she kept it: never look back.",
        "Note to self! Next time: bring snacks.",
        "10:30 is when the film finally wakes up.",
        "See https://example.org/page for more.",
    ],
)
def test_a_colon_inside_an_ordinary_sentence_does_not_start_a_section(paragraph: str) -> None:
    fields = parse_review_text(f"Overview: A film.\n\nPlot: It begins.\n\n{paragraph}")
    assert [s.heading for s in fields.sections] == ["Plot"]
    assert fields.sections[0].paragraphs[-1] == paragraph


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Behind Closed Doors", True),
        ("A Tale of Two Cities", True),
        ("Act 2", True),
        ("Part One – The Plan", True),
        ("Sound & Vision", True),
        ("overview", True),  # known labels in any case
        ("Here's the thing", False),
        ("One two three four five six seven", False),
        ("Wait, What", False),
        ("lowercase Start", False),
    ],
)
def test_what_counts_as_a_label(label: str, expected: bool) -> None:
    assert is_label(label) is expected


def test_markdown_emphasis_and_headings_are_labels() -> None:
    text = (
        "**Overview:** A quiet film. Mubi; 2024; 12A; 96 min.\n\n"
        "## The Look\n\nGrainy and warm.\n\nStill grainy.\n\n"
        "**Overall:** Lovely.\n\n__Rating:__ 4/5"
    )
    fields = parse_review_text(text)
    assert fields.overview == "A quiet film."
    assert fields.facts is not None and fields.facts.network == "Mubi"
    assert [(s.heading, s.paragraphs) for s in fields.sections] == [
        ("The Look", ("Grainy and warm.", "Still grainy."))
    ]
    assert fields.verdict == "Lovely."
    assert fields.grade is not None and fields.grade.letter == "A-"
    assert fields.grade_raw == "4/5"


def test_text_before_any_label_is_kept_in_an_untitled_section() -> None:
    fields = parse_review_text("An unlabelled opening.\n\nOverview: A film.\n\nRating: C")
    assert fields.sections[0].heading == ""
    assert fields.sections[0].text == "An unlabelled opening."
    assert fields.overview == "A film."


def test_facts_on_their_own_line_or_paragraph_after_the_overview() -> None:
    same_paragraph = parse_review_text("Overview: A film.\nBBC Four; 2023; PG; 60 min.")
    next_paragraph = parse_review_text("Overview: A film.\n\nBBC Four; 2023; PG; 60 min.")
    for fields in (same_paragraph, next_paragraph):
        assert fields.overview == "A film."
        assert fields.facts is not None
        assert (fields.facts.network, fields.facts.year, fields.facts.runtime) == (
            "BBC Four",
            2023,
            "60 min",
        )
    assert next_paragraph.sections == ()


def test_facts_with_a_year_range_and_no_certificate() -> None:
    facts = parse_facts("Channel 5; 2019–2021; 3 series of 6 episodes.")
    assert facts is not None
    assert (facts.network, facts.year, facts.certificate, facts.runtime) == (
        "Channel 5",
        2019,
        None,
        "3 series of 6 episodes",
    )


@pytest.mark.parametrize(
    "overview",
    [
        "A film with no facts line at all.",
        "Funny; sad; moving.",  # no year: a summary, not facts
        "It is, in the words of its director, a film about everything; 2017 was the year.",
    ],
)
def test_an_overview_without_a_facts_line_keeps_everything_as_summary(overview: str) -> None:
    summary, facts = split_overview(overview)
    assert facts is None
    assert summary == overview


def test_a_summary_sentence_never_joins_the_facts_line() -> None:
    summary, facts = split_overview("Grim; gripping. Sky Atlantic; 2026; 18; 8 x 60 min.")
    assert summary == "Grim; gripping."
    assert facts is not None and facts.network == "Sky Atlantic"


def test_a_rating_that_is_not_a_grade_is_kept_raw_with_a_warning() -> None:
    fields = parse_review_text("Overview: A film.\n\nRating: Must see")
    assert fields.grade is None
    assert fields.grade_raw == "Must see"
    assert "'Must see' is not a grade" in fields.warnings[0]
    assert fields.found


def test_grade_label_and_numeric_forms() -> None:
    assert parse_review_text("Grade: C-").grade is not None
    fields = parse_review_text("Overview: x.\n\nRating: ★★★½☆")
    assert fields.grade is not None and fields.grade.letter == "B"


def test_text_without_labels_is_not_found() -> None:
    fields = parse_review_text("Just some notes.\n\nNothing labelled here: honest.")
    assert not fields.found
    assert fields.labels == ()


def test_windows_line_endings() -> None:
    fields = parse_review_text("Overview: A film.\r\n\r\nPlot: Stuff.\r\n\r\nRating: D")
    assert [s.heading for s in fields.sections] == ["Plot"]
    assert fields.grade is not None and fields.grade.letter == "D"


def test_header_block_is_split_off_the_top() -> None:
    header, body = split_header_block(
        "\ufeffTitle: Some Film\nAuthor: A. Critic\nImage Alt: A frame\n\nOverview: x."
    )
    assert header == {"title": "Some Film", "author": "A. Critic", "image_alt": "A frame"}
    assert body == "Overview: x."


@pytest.mark.parametrize(
    "text",
    [
        "Overview: x.\n\nRating: A",  # a body label first: no header
        "Title: Some Film\nColour: red\n\nOverview: x.",  # an unknown name: not a header
        "Title: Some Film\nRating: A\n\nOverview: x.",  # body labels stay in the body
    ],
)
def test_no_header_block(text: str) -> None:
    header, body = split_header_block(text)
    assert header == {}
    assert body == text


def test_dates_naive_in_the_given_zone_and_aware_as_written() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_date("2026-11-20", berlin) == datetime(2026, 11, 20, tzinfo=berlin)
    assert parse_date("2026-11-20 09:30", berlin) == datetime(2026, 11, 20, 9, 30, tzinfo=berlin)
    aware = parse_date("2026-11-20T09:30:00+00:00", berlin)
    assert aware == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    rfc = parse_date("Fri, 20 Nov 2026 09:30:00 +0100", berlin)
    assert rfc.utcoffset() == timedelta(hours=1)
    with pytest.raises(ValueError, match="not a date like 2026-11-18"):
        parse_date("last Tuesday", berlin)
