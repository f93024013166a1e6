"""``digest prepare``, ``digest approve`` and ``digest note`` as a cron job or an editor's shell
runs them: real processes, one line per problem, exit code 1."""

from __future__ import annotations

import mailbox
from datetime import datetime, timedelta
from pathlib import Path

from support.cli import assert_one_line_error, digest
from support.scheduling import add_subscribers, maildir_copies, query, write_config, write_reviews

from digest.config import Config


def editorial(tmp_path: Path) -> Config:
    """A weekly issue approved by an editor, proofed Fridays, sent Mondays, into the outbox."""
    now = datetime.now().astimezone()
    config = write_config(
        tmp_path, approval="required", prepare="0 10 * * fri", editors=["ed@reel.example.org"]
    )
    write_reviews(config, [now - timedelta(minutes=1)])  # inside the next send's window
    add_subscribers(config, 2)
    return config


def proofs(config: Config) -> list[str]:
    box = mailbox.Maildir(config.outbox, create=False)
    return [str(m["Subject"]) for m in box if str(m["To"]) == "ed@reel.example.org"]


def test_prepare_proofs_and_approve_freezes_the_issue(tmp_path: Path) -> None:
    config = editorial(tmp_path)
    first = digest(config.path, "prepare")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("proofed: issue ") and "a [PROOF] went to" in first.stdout
    (key,) = [r["issue_id"] for r in query(config, "SELECT issue_id FROM approvals")]
    again = digest(config.path, "prepare", key)  # re-collect and re-render: a new proof
    assert again.returncode == 0, again.stderr
    assert len(proofs(config)) == 2 and all(p.startswith("[PROOF] ") for p in proofs(config))

    approved = digest(config.path, "approve")
    assert approved.returncode == 0, approved.stderr
    assert f"issue {key} approved; it goes out as approved at its send time" in approved.stdout
    frozen = digest(config.path, "prepare")
    assert_one_line_error(frozen, f"issue {key} is approved and frozen", "digest reset --issue")
    twice = digest(config.path, "approve", key)
    assert_one_line_error(twice, f"issue {key} is already approved")
    # Nothing reached a subscriber: proofs are not deliveries.
    assert query(config, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 0
    assert all(to == "ed@reel.example.org" for to, _ in maildir_copies(config))

    unfreeze = digest(config.path, "reset", "--issue", key, "--yes")
    assert unfreeze.returncode == 0 and "forgot the prepared issue" in unfreeze.stdout
    assert digest(config.path, "prepare").returncode == 0


def test_approve_with_nothing_waiting_and_commands_without_approval(tmp_path: Path) -> None:
    config = editorial(tmp_path)
    assert_one_line_error(digest(config.path, "approve"), "no issue is waiting for approval")
    plain = write_config(tmp_path / "plain")
    assert_one_line_error(
        digest(plain.path, "prepare"), "schedule.approval", "set schedule.approval: required"
    )


def test_note_saves_the_upcoming_issues_note_and_refuses_a_bad_file(tmp_path: Path) -> None:
    config = editorial(tmp_path)
    intro = tmp_path / "intro.md"
    intro.write_text("This week: three *festival* premieres.\n", encoding="utf-8")
    saved = digest(config.path, "note", "--file", str(intro))
    assert saved.returncode == 0, saved.stderr
    (note,) = (config.folder / "notes").glob("*.md")
    assert note.read_text(encoding="utf-8") == intro.read_text(encoding="utf-8")
    assert f"note for issue {note.stem} saved" in saved.stdout

    built = digest(config.path, "prepare")
    assert built.returncode == 0, built.stderr
    box = mailbox.Maildir(config.outbox, create=False)
    (proof,) = list(box)
    html = proof.get_payload()[1].get_payload(decode=True).decode()
    assert "three <em>festival</em> premieres" in html

    latin = tmp_path / "latin.md"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    assert_one_line_error(digest(config.path, "note", "--file", str(latin)), "not UTF-8")
    assert_one_line_error(
        digest(config.path, "note", "2020-W01", "--file", str(intro)), "not the upcoming issue"
    )


def test_next_says_where_the_issue_stands(tmp_path: Path) -> None:
    config = editorial(tmp_path)
    before = digest(config.path, "next")
    assert before.returncode == 0, before.stderr
    assert ": collecting — not prepared yet; proofed at schedule.prepare" in before.stdout
    assert digest(config.path, "prepare").returncode == 0
    after = digest(config.path, "next")
    assert ": proofed — proof sent " in after.stdout and "waiting for approval" in after.stdout
