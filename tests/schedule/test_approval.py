"""The editor's week, driven through the tick with a pinned clock and a loopback SMTP sink.

Friday 10:00 (``schedule.prepare``) the tick prepares the issue of Monday's 08:00 send and a
``[PROOF]`` reaches the editor; the editor approves it by POST on the approve page served by
the real web app; a source changes over the weekend; Monday's send carries the approved
rendering all the same. Unapproved, the same week is held: the editor is told, no subscriber
gets anything, and ``digest history`` says why.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
from support.cli import digest
from support.clock import BERLIN
from support.scheduling import add_subscribers, query, write_config, write_reviews
from support.smtp import Sink
from support.web import running

from digest.config import Config
from digest.schedule.tick import tick

#: Friday 27 November 2026, 10:00 in Berlin: the prepare firing of ``0 10 * * fri``.
FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)
#: Monday 30 November 2026, 08:00: the send of ``0 8 * * mon``, issue 2026-W49.
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
EDITOR = "editor@reel.example.org"
LINK = re.compile(r"https://reel\.example\.org/approve/(\S+)")


def editorial_config(tmp_path: Path, port: int) -> Config:
    return write_config(
        tmp_path, smtp_port=port, approval="required", prepare="0 10 * * fri", editors=[EDITOR]
    )


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def to(sink: Sink, address: str) -> list[EmailMessage]:
    return [r.message for r in sink.received if r.rcpt_tos == [address]]


def prepared_week(tmp_path: Path, sink: Sink) -> tuple[Config, list[str], list[str], str]:
    """Friday's tick: the config, the subscribers, the review titles and the approve token."""
    config = editorial_config(tmp_path, sink.port)
    titles = write_reviews(config, [FRIDAY - timedelta(days=3), FRIDAY - timedelta(days=1)])
    readers = add_subscribers(config, 3)
    report = tick(config, now=FRIDAY)
    assert report.proofed is not None and report.proofed.outcome == "proofed"
    assert report.results == ()  # nothing is due on Friday
    (proof,) = to(sink, EDITOR)
    assert str(proof["Subject"]).startswith("[PROOF] ")
    text = text_part(proof)
    assert "PROOF of issue 2026-W49" in text and all(t in text for t in titles)
    assert not any(to(sink, r) for r in readers)  # a proof is never a subscriber's copy
    found = LINK.search(text)
    assert found is not None
    return config, readers, titles, found.group(1)


def change_the_source(config: Config, titles: list[str]) -> str:
    """Over the weekend a review is retitled and a new one published."""
    folder = config.folder / "reviews"
    (path,) = [p for p in folder.iterdir() if titles[0].lower().split()[0] in p.name]
    path.write_text(path.read_text().replace(titles[0], "Retitled After Approval"))
    (new,) = write_reviews(config, [MONDAY - timedelta(days=1)])[-1:]
    return new


def test_an_approved_issue_goes_out_as_approved_even_after_a_source_changed(
    tmp_path: Path,
) -> None:
    with Sink() as sink:
        config, readers, titles, token = prepared_week(tmp_path, sink)
        proof_subject = str(to(sink, EDITOR)[0]["Subject"]).removeprefix("[PROOF] ")
        with running(config) as base:
            page = httpx.get(f"{base}/approve/{token}")
            assert page.status_code == 200 and "Approve issue 2026-W49" in page.text
            assert query(config, "SELECT status FROM approvals")[0]["status"] == "proofed"
            done = httpx.post(f"{base}/approve/{token}")
            assert done.status_code == 200 and "approved" in done.text
            again = httpx.post(f"{base}/approve/{token}")  # single use
            assert again.status_code == 404
        change_the_source(config, titles)

        report = tick(config, now=MONDAY)
        assert [(r.issue_id, r.outcome) for r in report.results] == [("2026-W49", "sent")]
        for reader in readers:
            (copy,) = to(sink, reader)
            assert str(copy["Subject"]) == proof_subject
            text = text_part(copy)
            assert all(t in text for t in titles)  # the rendering approved on Friday
            assert "Retitled After Approval" not in text
        # A restart an hour later sends nothing twice.
        again_report = tick(config, now=MONDAY + timedelta(hours=1))
        assert [r.outcome for r in again_report.results] == ["already-sent"]
        assert all(len(to(sink, r)) == 1 for r in readers)
        assert len(to(sink, EDITOR)) == 1  # the proof only
    (row,) = query(config, "SELECT status, approved_by FROM approvals")
    assert (row["status"], row["approved_by"]) == ("approved", "approve link")


def test_the_same_week_unapproved_is_held_and_the_editors_are_told(tmp_path: Path) -> None:
    with Sink() as sink:
        config, readers, _titles, _token = prepared_week(tmp_path, sink)
        report = tick(config, now=MONDAY)
        ((key, outcome, message),) = [(r.issue_id, r.outcome, r.message) for r in report.results]
        assert (key, outcome) == ("2026-W49", "held")
        assert "not approved" in message and "digest approve 2026-W49" in message
        assert report.retry_soon  # the scheduler looks again within the grace
        _proof, held = to(sink, EDITOR)
        assert str(held["Subject"]) == "[HELD] 2026-W49: waiting for approval"
        assert "Mon 30 Nov 2026 14:00 CET" in text_part(held)  # 08:00 + the 6h grace
        # Looking again within the grace holds it again, without telling the editors twice.
        assert [r.outcome for r in tick(config, now=MONDAY + timedelta(hours=1)).results] == [
            "held"
        ]
        # Past the grace the week is recorded as missed, and why.
        late = tick(config, now=MONDAY + timedelta(hours=7))
        assert late.results == () and [m.issue_id for m in late.missed] == ["2026-W49"]
        assert not any(to(sink, r) for r in readers)
        assert len(to(sink, EDITOR)) == 2
    assert query(config, "SELECT count(*) AS n FROM issues")[0]["n"] == 0
    history = digest(config.path, "history")
    assert history.returncode == 0, history.stderr
    assert "held" in history.stdout and "not approved" in history.stdout


def test_a_held_issue_approved_within_the_grace_goes_out_at_the_next_look(tmp_path: Path) -> None:
    with Sink() as sink:
        config, readers, titles, token = prepared_week(tmp_path, sink)
        assert [r.outcome for r in tick(config, now=MONDAY).results] == ["held"]
        with running(config) as base:
            page = httpx.get(f"{base}/approve/{token}")  # the proof's link still works
            assert page.status_code == 200 and "held" in page.text
            assert httpx.post(f"{base}/approve/{token}").status_code == 200
        report = tick(config, now=MONDAY + timedelta(hours=2))
        assert [(r.issue_id, r.outcome) for r in report.results] == [("2026-W49", "sent")]
        assert all(len(to(sink, r)) == 1 for r in readers)
        assert all(titles[0] in text_part(to(sink, r)[0]) for r in readers)
