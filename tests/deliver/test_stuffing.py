"""Dot-stuffing once per issue: every copy's DATA bytes are exactly what stuffing the whole
copy (what the sender did for every copy before issue 18) gives — on random pieces, on real
copies with awkward bodies and names, signed and unsigned, and on the wire of a real server."""

from __future__ import annotations

import random
import re
from pathlib import Path

import dkim
from support.dkim_keys import dkim_config, dns, write_keys
from support.smtp import NOW, Script, ScriptedServer, rendered_digest, write_config

from digest.config import load_config
from digest.deliver import SmtpTransport
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import MessageTemplate, Recipient
from digest.deliver.stuffing import Copy, Piece, dot_stuff, splice

#: Lines that start with a dot (alone, doubled, after a CRLF inside the HTML), a bare CR and a
#: bare LF, a line far past 76 characters, and non-ASCII text.
AWKWARD_HTML = (
    "\n.<p>a line that starts with a dot</p>\n..two dots\n.\n"
    "<p>" + "long " * 400 + "</p>\r\n.crlf then a dot\r.cr then a dot\n"
    "<p>Zoë, Ærø, 東京, \U0001f3ac — “quotes”</p>\n"
)
NAMES = ["Ann", "", ".Dot at the start", "..", "名前 " * 30, "x" * 200, "a.\nb"]


def test_splicing_stuffed_pieces_equals_stuffing_the_whole_message() -> None:
    rng = random.Random(18)
    for _ in range(5000):
        raws = [
            bytes(rng.choice(b".\r\na") for _ in range(rng.randrange(0, 6)))
            for _ in range(rng.randrange(0, 6))
        ]
        joined = b"".join(raws)
        assert b"".join(splice([Piece(r) for r in raws])) == dot_stuff(joined), raws


def test_a_whole_message_copy_is_stuffed_like_before() -> None:
    for data in (b"", b".", b"a\r\n.b", b".\r\n", b"x\r\n..\r\n.", b"no line end"):
        copy = Copy.of(data)
        assert copy.data() == data
        assert copy.wire() == dot_stuff(data)
        assert len(copy) == len(data)


def _templates(tmp_path: Path) -> tuple[list[MessageTemplate], dict[bytes, bytes]]:
    records = write_keys(tmp_path)
    config = load_config(write_config(tmp_path, dkim=dkim_config(ed25519=True)))
    assert config.dkim is not None
    r = rendered_digest(config, html_extra=AWKWARD_HTML)
    templates = [
        MessageTemplate(
            config=config,
            issue_key=r.period.key,
            subject=r.subject,
            html_body=r.html,
            text_body=r.text + AWKWARD_HTML,
            markers=r.markers,
            date=NOW,
            signer=signer,
        )
        for signer in (None, DkimSigner.from_config(config.dkim))
    ]
    return templates, records


def test_every_copy_on_the_wire_is_its_message_dot_stuffed(tmp_path: Path) -> None:
    (plain, signed), records = _templates(tmp_path)
    for template in (plain, signed):
        for i, name in enumerate(NAMES):
            who = Recipient(f"reader{i}@example.net", name, f"tok-{i}_x")
            copy = template.render_copy(who)
            data = copy.data()
            assert copy.wire() == dot_stuff(data)
            assert re.search(rb"\r\n\.\.", copy.wire())  # there was stuffing to do
            if template is plain:
                assert data == template.render(who)
            else:  # a new signature each call (t=), over the same message
                assert dkim.DKIM(data).verify(idx=0, dnsfunc=dns(records))
                assert dkim.DKIM(data).verify(idx=1, dnsfunc=dns(records))


def test_the_server_receives_exactly_the_stuffed_message(tmp_path: Path) -> None:
    (plain, _), _ = _templates(tmp_path)
    who = [Recipient(f"r{i}@example.net", n, f"tok{i}") for i, n in enumerate(NAMES[:4])]
    with ScriptedServer(Script()) as server:
        config = load_config(write_config(tmp_path, smtp={
            "host": "127.0.0.1", "port": server.port, "security": "none", "connections": 1,
            "rate": 0, "timeout": 5, "retries": 0}))  # fmt: skip
        assert config.smtp is not None
        session = SmtpTransport(config.smtp).open()
        try:
            for r in who:
                copy = plain.render_copy(r)
                attempt = session.send(plain.sender, r.email, copy, plain.message_id(r.email))
                assert attempt.status == "sent"
        finally:
            session.close()
        raw = bytes(server.transcript.raw)
        accepted = server.transcript.accepted
    for r, got in zip(who, accepted, strict=True):
        data = plain.render(r)
        assert dot_stuff(data) + b".\r\n" in raw
        assert got == data  # the server's un-stuffing gives back the message itself
