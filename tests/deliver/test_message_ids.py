"""Message-IDs: unique per message ever sent, repeated only by a resumed copy of itself.

Two state files (a state reset), two newsletters on one domain, another issue, and a resend of
an ``unknown`` copy — all delivered for real into each config's Maildir outbox.
"""

from __future__ import annotations

import mailbox
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from support.smtp import NOW, Sink, add_subscribers, record, rendered_digest, write_config

from digest.config import Config, load_config
from digest.deliver import SmtpTransport
from digest.pipeline.run import run_once
from digest.state import db


def _config(folder: Path, smtp: dict[str, Any] | None = None, **newsletter: Any) -> Config:
    folder.mkdir(parents=True)
    path = write_config(folder, smtp=smtp)
    data = yaml.safe_load(path.read_text())
    data["newsletter"].update(newsletter)
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def _ids(config: Config) -> dict[str, list[str]]:
    """address → the Message-IDs of every copy in the outbox for it."""
    box = mailbox.Maildir(config.outbox, create=False)
    found: dict[str, list[str]] = {}
    for key in box.iterkeys():
        msg = box[key]
        found.setdefault(str(msg["To"]), []).append(str(msg["Message-ID"]))
    return found


def _send(config: Config, when: Any = NOW) -> dict[str, list[str]]:
    add_subscribers(config, 4)
    record(config, rendered_digest(config))
    assert run_once(config, now=when).sent == 4
    return _ids(config)


def test_ids_never_collide_across_state_files_newsletters_and_issues(tmp_path: Path) -> None:
    first = _send(_config(tmp_path / "a"))
    # The same newsletter after a state reset: same week, same addresses.
    reset = _send(_config(tmp_path / "a-reset"))
    # A second newsletter on the same domain.
    other = _send(
        _config(tmp_path / "b", title="The Other Reel", base_url="https://reel.example.org/tv")
    )
    everything = [i for ids in (first, reset, other) for v in ids.values() for i in v]
    assert len(everything) == 12 == len(set(everything))
    assert first.keys() == reset.keys() == other.keys()
    assert all(i.endswith("@reel.example.org>") for i in everything)


def test_a_later_issue_in_the_same_state_gets_new_ids(tmp_path: Path) -> None:
    config = _config(tmp_path / "a")
    week1 = _send(config)
    later = NOW + timedelta(days=7)
    from digest.models import RenderedDigest
    from digest.period import current_period

    r = rendered_digest(config)
    record(config, RenderedDigest(**{**_fields(r), "period": current_period(config, later)}))
    assert run_once(config, now=later).sent == 4
    both = _ids(config)
    week2 = {a: [i for i in ids if i not in week1[a]] for a, ids in both.items()}
    assert all(len(v) == 1 for v in week2.values())
    assert not {i for v in week1.values() for i in v} & {i for v in week2.values() for i in v}


def _fields(r: Any) -> dict[str, Any]:
    return {name: getattr(r, name) for name in r.__dataclass_fields__}


def test_a_resent_copy_repeats_its_own_id(tmp_path: Path) -> None:
    with Sink() as sink:
        smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "rate": 0}
        config = _config(tmp_path / "a", smtp=smtp)
        assert config.smtp is not None
        add_subscribers(config, 4)
        record(config, rendered_digest(config))
        assert run_once(config, now=NOW, transport=SmtpTransport(config.smtp)).sent == 4
        conn = db.connect(config.state)
        try:
            email, stored = conn.execute(
                "SELECT email, message_id FROM deliveries ORDER BY email LIMIT 1"
            ).fetchone()
            # The server dropped after the final ".": unknown, then resent on request.
            conn.execute("UPDATE deliveries SET status = 'unknown' WHERE email = ?", (email,))
            conn.execute("UPDATE issues SET status = 'sending'")
        finally:
            conn.close()
        resent = run_once(
            config, now=NOW, resend_unknown=True, transport=SmtpTransport(config.smtp)
        )
        assert resent.sent == 1
        received = [(r.rcpt_tos[0], str(r.message["Message-ID"])) for r in sink.received]
    assert len(received) == 5
    ids = [i for to, i in received if to == email]
    assert ids == [stored, stored]  # the first copy and the resend: one Message-ID
    others = [i for to, i in received if to != email]
    assert len(set(others)) == 3 and stored not in others
