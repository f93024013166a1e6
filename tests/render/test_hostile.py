"""Hostile content renders as inert text, rendering fetches nothing, and a crashing compiler
never takes the caller down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from support.render_reviews import NOW, make_config, make_review, sample_reviews, week_period

from digest.config import BUNDLED_TEMPLATES
from digest.errors import RenderError
from digest.models import Image, RenderedDigest, Review
from digest.render import compiler as mjml_worker
from digest.render.compiler import Compiler
from digest.render.compose import MAX_OVERVIEW, MAX_TITLE, render_digest


class ConnectionCounter:
    """A loopback TCP listener that counts every connection made to it (and answers none)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    c = ConnectionCounter()
    # The counter itself works: a real connection is counted.
    socket.create_connection(("127.0.0.1", c.port)).close()
    for _ in range(100):
        if c.connections:
            break
        threading.Event().wait(0.01)
    assert c.connections == 1
    c.connections = 0
    yield c
    c.close()


def hostile_reviews(port: int) -> tuple[Review, ...]:
    base = f"http://127.0.0.1:{port}"
    bait = (
        f"<link rel=stylesheet href={base}/x.css><style>@import url({base}/y.css);</style>"
        f"<img src={base}/z onerror=alert(1)><script src={base}/s.js></script>"
        f'<iframe src={base}/f></iframe><svg onload=alert(1)><a href="javascript:alert(1)">x</a>'
        f'<form action={base}/post><input name=q></form>@import url("{base}/w.css");'
    )
    title = (
        '<script>alert("t")</script></mj-text><mj-raw><script>x()</script></mj-raw>'
        '{{ 7*7 }}{% if true %}JINJA{% endif %}</h2><mj-include path="/etc/passwd" />'
    )
    return (
        make_review(title, overview=bait, facts=bait, grade="A", credit=bait),
        Review(
            title='" onmouseover="alert(1)',
            published=NOW,
            source="fixtures",
            key="attr",
            link=f'{base}/review"onclick="x',  # quotes: the model drops the link
            overview="Plain text with a marker look-alike dgst0123456789abcdefunsub inside.",
            image=Image(url=f"{base}/img.jpg", alt='" onerror="alert(1)', credit=bait),
        ),
        make_review("\x00Control\x1b[31m chars\u2028and\u202e bidi", overview="ok\x07", grade="C"),
        make_review("W" * 100_000, overview="<div>" * 100_000 + "deep", grade="B"),
        make_review("Long", overview="word " * 200_000, facts="x" * 100_000, grade="D"),
    )


def inert(rendered: RenderedDigest) -> lxml.html.HtmlElement:
    """Parse the HTML and check nothing in it can run, fetch or escape its card."""
    doc = lxml.html.document_fromstring(rendered.html)
    for tag in ("script", "iframe", "svg", "form", "input", "link", "object", "embed"):
        assert not doc.findall(f".//{tag}"), tag
    assert not [el for el in doc.iter() if isinstance(el.tag, str) and el.tag.startswith("mj-")]
    for el in doc.iter():
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            assert "javascript:" not in value.lower()
    for style in doc.iter("style"):
        assert "@import" not in (style.text or "")
    for img in doc.iter("img"):
        assert img.get("src", "").startswith("https://")
    return doc


def test_hostile_reviews_render_as_inert_text_and_fetch_nothing(
    tmp_path: Path, counter: ConnectionCounter
) -> None:
    config = make_config(tmp_path)
    reviews = hostile_reviews(counter.port)
    rendered = render_digest(config, week_period(), reviews, now=NOW)
    doc = inert(rendered)
    titles = [t.text_content() for t in doc.find_class("card-title")]
    # Markup and template syntax in a title are shown as the text they are.
    assert titles[0].startswith('<script>alert("t")</script></mj-text><mj-raw>')
    assert "{{ 7*7 }}{% if true %}JINJA{% endif %}" in titles[0]
    assert "49" not in titles[0]
    assert '" onmouseover="alert(1)' in titles
    assert " ".join(titles[2].split()) == "Control [31m chars and bidi"
    # Absurd lengths are capped, so the message stays small and every card is shown.
    assert max(len(t) for t in titles) <= MAX_TITLE + 1
    overviews = [o.text_content() for o in doc.find_class("card-overview")]
    assert max(len(o) for o in overviews) <= MAX_OVERVIEW + 1
    assert len(rendered.reviews) == len(reviews)
    # A marker look-alike from a feed never becomes a per-recipient slot.
    assert "dgst0123456789abcdefunsub" not in rendered.html + rendered.text
    assert "\x00" not in rendered.text and "\x1b" not in rendered.text
    # The http image was left out and said so; the subject is one clean line.
    assert any("is not https; left out" in w for w in rendered.warnings)
    # Markup quoted from a review is not mistaken for a broken text part.
    assert not [w for w in rendered.warnings if "plain-text part" in w]
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert counter.connections == 0


def test_publication_templates_cannot_make_rendering_fetch(
    tmp_path: Path, counter: ConnectionCounter
) -> None:
    base = f"http://127.0.0.1:{counter.port}"
    own = tmp_path / "templates"
    own.mkdir()
    head = (BUNDLED_TEMPLATES / "_head.mjml.j2").read_text(encoding="utf-8")
    bait = (
        f'<mj-raw><link rel="stylesheet" href="{base}/t.css"></mj-raw>\n'
        f"<mj-style>@import url({base}/u.css); .a {{ color: red; }}</mj-style>\n"
        f'<mj-style inline="inline">@import url("{base}/v.css"); @import url(file:///etc/passwd);'
        " .card-title { letter-spacing: 1px; }</mj-style>\n"
    )
    (own / "_head.mjml.j2").write_text(head.replace("</mj-head>", bait + "</mj-head>"))
    config = make_config(tmp_path, "templates: templates/\n")
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    assert counter.connections == 0
    # The override was used: its inline rule reached the titles, its <link> is kept for the
    # mail client (and the lint flags it), premailer fetched none of it.
    doc = lxml.html.document_fromstring(rendered.html)
    assert all("letter-spacing:1px" in t.get("style", "") for t in doc.find_class("card-title"))
    assert any(f"{base}/t.css" in w and "not https" in w for w in rendered.warnings)


def test_template_errors_are_render_errors_naming_the_file(tmp_path: Path) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.txt.j2").write_text("line one\n{% for x in %}\n")
    config = make_config(tmp_path, "templates: templates/\n")
    with pytest.raises(RenderError, match=r"digest\.txt\.j2:2: template syntax error"):
        render_digest(config, week_period(), sample_reviews(), now=NOW)


def test_invalid_mjml_from_a_template_is_a_render_error(tmp_path: Path) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.mjml.j2").write_text("<mjml><mj-body><mj-section><mj-text>unclosed")
    config = make_config(tmp_path, "templates: templates/\n")
    with pytest.raises(RenderError, match="the MJML compiler rejected the document"):
        render_digest(config, week_period(), sample_reviews(), now=NOW)


def test_subject_template_mistakes_are_clear(tmp_path: Path) -> None:
    config = make_config(tmp_path, "")
    bad = config.model_copy(
        update={"newsletter": config.newsletter.model_copy(update={"subject": "{{ nope }}"})}
    )
    with pytest.raises(RenderError, match=r"newsletter\.subject: 'nope' is undefined"):
        render_digest(bad, week_period(), sample_reviews(), now=NOW)
    multi = config.newsletter.model_copy(
        update={"subject": "{{ newsletter.title }}\r\n\r\nBcc: x@example.org {{ pick.title }}"}
    )
    rendered = render_digest(
        config.model_copy(update={"newsletter": multi}), week_period(), sample_reviews(), now=NOW
    )
    assert rendered.subject == "The Night Shift Bcc: x@example.org The Lantern Keepers"


# ---------------------------------------------------------------------------------------------
# The native compiler crashing
# ---------------------------------------------------------------------------------------------

SEGFAULT_AFTER_READING = (
    sys.executable,
    "-c",
    "import sys, faulthandler; sys.stdin.readline(); faulthandler._sigsegv()",
)


def test_a_compiler_that_segfaults_is_a_render_error() -> None:
    with Compiler(SEGFAULT_AFTER_READING) as compiler, pytest.raises(RenderError) as info:
        compiler.compile("<mjml><mj-body></mj-body></mjml>")
    assert "crashed (was killed by SIGSEGV)" in str(info.value)


def test_a_compiler_that_aborts_at_start_is_a_render_error() -> None:
    argv = (sys.executable, "-c", "import os; os.abort()")
    with Compiler(argv) as compiler, pytest.raises(RenderError, match="SIGABRT"):
        compiler.compile("<mjml><mj-body></mj-body></mjml>")


def test_a_compiler_killed_mid_render_is_a_render_error() -> None:
    with Compiler() as compiler:
        assert compiler.compile("<mjml><mj-body></mj-body></mjml>").html.startswith("<!doctype")
        os.kill(compiler.pid, signal.SIGKILL)
        with pytest.raises(RenderError, match="SIGKILL"):
            compiler.compile("<mjml><mj-body></mj-body></mjml>")


def test_a_hanging_compiler_is_stopped() -> None:
    argv = (sys.executable, "-c", "import time; time.sleep(600)")
    with Compiler(argv, timeout=1) as compiler, pytest.raises(RenderError, match="longer than"):
        compiler.compile("<mjml><mj-body></mj-body></mjml>")


def test_a_compiler_that_stops_reading_is_stopped() -> None:
    argv = (sys.executable, "-c", "import time; time.sleep(600)")
    big = "<mjml><mj-body>" + "<mj-raw> </mj-raw>" * 200_000 + "</mj-body></mjml>"
    with Compiler(argv, timeout=1) as compiler, pytest.raises(RenderError, match="longer than"):
        compiler.compile(big)


def test_render_digest_survives_a_crashing_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    monkeypatch.setattr(mjml_worker, "WORKER_ARGV", SEGFAULT_AFTER_READING)
    with pytest.raises(RenderError, match="MJML compiler crashed"):
        render_digest(config, week_period(), sample_reviews(), now=NOW)
    monkeypatch.undo()
    # The caller carries on: the next render, with the real compiler, works.
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    assert len(rendered.reviews) == 6


PREMAILER_WITH_IMPORT = """
import logging, sys, urllib.request
import premailer
from digest.render.compiler import _forbid_network
if sys.argv[2] == "guarded":
    _forbid_network()
url = "http://127.0.0.1:" + sys.argv[1]
html = "<html><head><style>@import url(" + url + "/a.css); p {color: red}</style></head>"
premailer.Premailer(
    html + "<body><p>x</p></body></html>",
    allow_network=False,
    cssutils_logging_level=logging.CRITICAL,
).transform()
if sys.argv[2] == "guarded":
    try:
        urllib.request.urlopen(url + "/b", timeout=2)
    except OSError:
        print("refused")
"""


def test_the_compiler_child_has_no_network_even_where_premailer_fetches(
    counter: ConnectionCounter,
) -> None:
    def run(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", PREMAILER_WITH_IMPORT, str(counter.port), mode],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    # The trap is real: premailer's allow_network=False does not stop cssutils fetching an
    # @import inside a <style> block. (If this starts failing, premailer fixed it upstream.)
    run("unguarded")
    assert counter.connections > 0
    counter.connections = 0
    # In the compiler child, that fetch and any other connection are refused.
    assert run("guarded").strip() == "refused"
    assert counter.connections == 0
