"""A garbled or over-long SMTP reply after the final ".": the server has the whole message, so
the copy is recorded unknown and not sent again."""

from __future__ import annotations

from pathlib import Path

import pytest
import support.smtp as smtp_support

from digest.config import load_config
from digest.deliver import SmtpTransport
from digest.pipeline.run import run_once

# ---------------------------------------------------------------------------------------------
# A garbled or over-long SMTP reply after the final "." — the server has the whole message
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["hello, this is not an SMTP reply", "250 " + "x" * 9000],
    ids=["garbled", "too-long"],
)
def test_an_unreadable_reply_after_the_final_dot_is_unknown_not_resent(
    tmp_path: Path, answer: str
) -> None:
    with smtp_support.ScriptedServer(smtp_support.Script(bodies=[answer])) as server:
        config = load_config(
            smtp_support.write_config(
                tmp_path,
                smtp={
                    "host": "127.0.0.1",
                    "port": server.port,
                    "security": "none",
                    "connections": 1,
                    "rate": 0,
                    "timeout": 5,
                    "retries": 2,
                },
            )
        )
        smtp_support.add_subscribers(config, 1)
        smtp_support.record(config, smtp_support.rendered_digest(config))
        assert config.smtp is not None
        transport = SmtpTransport(config.smtp, backoff_base=0.01)

        result = run_once(config, now=smtp_support.NOW, transport=transport)

        assert result.unknown == 1
        assert server.transcript.commands.count("DATA") == 1  # never sent a second time
    states = smtp_support.delivery_states(config, "2026-W48")
    assert [s for s, _ in states.values()] == ["unknown"]
