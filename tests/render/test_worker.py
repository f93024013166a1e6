"""One render worker per process, reused and replaced; premailer without the pass that changes
nothing; Jinja templates compiled once."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from mjml import mjml2html
from support.render_reviews import NOW, make_config, make_review, sample_reviews, week_period

from digest.errors import RenderError
from digest.render import compiler as mjml_worker
from digest.render.compiler import Compiler, compile_document, shared_compiler
from digest.render.compose import TRIM_AT, render_digest
from digest.render.environment import environment, render_template
from digest.render.notice import render_confirmation

SEGFAULT_AFTER_READING = (
    sys.executable,
    "-c",
    "import sys, faulthandler; sys.stdin.readline(); faulthandler._sigsegv()",
)


def _wait_until_dead(pid: int) -> None:
    """Until the killed child is a zombie (the kernel has finished killing it)."""
    stat = Path(f"/proc/{pid}/stat")
    while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)


def _worker_pid() -> int:
    with shared_compiler() as worker:
        return worker.pid


def test_renders_share_one_worker_until_it_dies(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    render_digest(config, week_period(), sample_reviews(), now=NOW)
    first = _worker_pid()
    render_digest(config, week_period(), (), now=NOW)  # the quiet note
    render_confirmation(config, timedelta(days=2))
    assert _worker_pid() == first  # no new child for a second render or the confirmation

    os.kill(first, signal.SIGKILL)  # it dies between renders: the next one starts afresh
    _wait_until_dead(first)
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    assert len(rendered.reviews) == 6
    assert _worker_pid() != first


def test_a_crash_mid_render_is_one_error_and_the_next_render_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    render_digest(config, week_period(), sample_reviews(), now=NOW)
    monkeypatch.setattr(mjml_worker, "WORKER_ARGV", SEGFAULT_AFTER_READING)
    with pytest.raises(RenderError, match=r"MJML compiler crashed \(was killed by SIGSEGV\)"):
        render_digest(config, week_period(), sample_reviews(), now=NOW)
    monkeypatch.undo()
    before = _worker_pid()
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    assert len(rendered.reviews) == 6
    assert _worker_pid() == before


def test_the_trimming_passes_use_the_same_worker(tmp_path: Path) -> None:
    config = make_config(tmp_path, "selection: {days: 7, max_reviews: 500}")
    many = tuple(
        make_review(f"Feature {i}", "An overview long enough to fill a card. " * 6,
                    published=NOW - timedelta(hours=1 + i))
        for i in range(60)
    )  # fmt: skip
    render_digest(config, week_period(), sample_reviews(), now=NOW)
    before = _worker_pid()
    timings: dict[str, float] = {}
    rendered = render_digest(config, week_period(), many, now=NOW, timings=timings)
    assert len(rendered.reviews) < len(many)  # trimmed: more than one pass
    assert len(rendered.html.encode()) < TRIM_AT
    assert _worker_pid() == before


def test_a_rejected_document_keeps_the_worker(tmp_path: Path) -> None:
    with shared_compiler() as worker:
        pid = worker.pid
        with pytest.raises(RenderError, match="rejected the document"):
            worker.compile("<mjml><mj-body><mj-section>")  # not well-formed
    assert _worker_pid() == pid


def _documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The MJML and inline CSS of every golden issue, as the renders hand them over."""
    seen: list[tuple[str, str]] = []
    real = Compiler.send

    def recording(self: Compiler, mjml: str, inline_css: str = "") -> None:
        seen.append((mjml, inline_css))
        real(self, mjml, inline_css)

    monkeypatch.setattr(Compiler, "send", recording)
    config = make_config(tmp_path)
    render_digest(config, week_period(), sample_reviews(), now=NOW)
    render_digest(config, week_period(), (), now=NOW)
    render_confirmation(config, timedelta(days=2))
    monkeypatch.undo()
    assert len(seen) == 3
    return seen


def test_premailer_output_is_the_same_without_the_image_alignment_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = 0
    for mjml, css in _documents(tmp_path, monkeypatch):
        # The bundled templates never need the pass (their one "float" is in a media query,
        # in a <style> block premailer leaves alone), so it is skipped for them …
        assert not mjml_worker._floats(mjml2html(mjml, fonts={}, disable_comments=False), css)
        ours = compile_document(mjml, css)["html"]
        # … and skipping it changes nothing.
        with_pass = compile_document(mjml, css, align_floating_images=True)["html"]
        assert ours == with_pass
        images += ours.count("<img")
    assert images >= 6  # the pass had images to look at: one per card


def test_the_bundled_design_hands_premailer_nothing_to_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its styles are written into style="" by the templates (a rule inlined by premailer costs
    # a pass over the whole document) …
    for mjml, css in _documents(tmp_path, monkeypatch):
        assert css == ""
        assert 'inline="inline"' not in mjml
    rendered = render_digest(make_config(tmp_path), week_period(), sample_reviews(), now=NOW)
    assert 'class="card-title" style="margin:0; font-family:Georgia' in rendered.html
    assert "<style" in rendered.html and ".card-title {" not in rendered.html


def test_an_own_templates_inline_style_is_still_inlined(tmp_path: Path) -> None:
    # … while a publication's own <mj-style inline="inline"> goes through premailer as before.
    own = tmp_path / "own"
    own.mkdir()
    bundled = Path(__file__).resolve().parents[2] / "templates" / "_head.mjml.j2"
    head = bundled.read_text(encoding="utf-8").replace(
        "</mj-head>",
        '<mj-style inline="inline">.card-title { letter-spacing: 2px; color: #123456; }'
        "</mj-style></mj-head>",
    )
    (own / "_head.mjml.j2").write_text(head, encoding="utf-8")
    config = make_config(tmp_path, f"templates: {own}")
    rendered = render_digest(config, week_period(), sample_reviews(), now=NOW)
    titles = lxml.html.document_fromstring(rendered.html).find_class("card-title")
    assert len(titles) == 6
    for title in titles:  # merged with the template's own style attribute
        assert "letter-spacing:2px" in title.get("style") and "color:#123456" in title.get("style")
        assert "font-family:Georgia" in title.get("style")


def test_a_text_template_failing_while_the_worker_compiles_leaves_no_stale_reply(
    tmp_path: Path,
) -> None:
    # The text part is rendered while the worker compiles the HTML: when it fails, the reply
    # already on its way must not be taken for the next render's.
    own = tmp_path / "own"
    own.mkdir()
    (own / "digest.txt.j2").write_text("{{ 1 / 0 }}", encoding="utf-8")
    broken = make_config(tmp_path, f"templates: {own}")
    with pytest.raises(RenderError, match="ZeroDivisionError"):
        render_digest(broken, week_period(), sample_reviews(), now=NOW)
    pid = _worker_pid()
    quiet = render_digest(make_config(tmp_path), week_period(), (), now=NOW)
    assert "No new reviews" in quiet.html and "Pick of the" not in quiet.html
    full = render_digest(make_config(tmp_path), week_period(), sample_reviews(), now=NOW)
    assert "Pick of the" in full.html
    assert _worker_pid() == pid


def test_a_template_added_to_a_folder_untouched_for_long_is_seen(tmp_path: Path) -> None:
    # environment() walks the folders again only when one's modification time changed.
    own = tmp_path / "own"
    own.mkdir()
    (own / "quiet.txt.j2").write_text("old quiet\n", encoding="utf-8")
    os.utime(own, (1, 1_000_000_000))  # long ago: no second change can hide in its tick
    custom = make_config(tmp_path, f"templates: {own}")
    env = environment(custom)
    assert environment(custom) is env
    with pytest.raises(RenderError, match="not found"):
        render_template(env, "missing.txt.j2", {})
    (own / "digest.txt.j2").write_text("{{ newsletter.title }}: my own\n", encoding="utf-8")
    assert environment(custom) is not env
    rendered = render_digest(custom, week_period(), sample_reviews(), now=NOW)
    assert rendered.text.endswith(": my own\n")
    (own / "digest.txt.j2").unlink()  # removed again: the bundled one is back
    os.utime(own, (1, 1_000_000_001))
    rendered = render_digest(custom, week_period(), sample_reviews(), now=NOW)
    assert "my own" not in rendered.text and "The Lantern Keepers" in rendered.text


def test_an_image_that_floats_still_gets_its_align_attribute() -> None:
    mjml = (
        "<mjml><mj-body><mj-section><mj-column><mj-raw>"
        '<img src="https://x.example/a.jpg" class="pic" alt="">'
        '<img src="https://x.example/b.jpg" style="float: right" alt="">'
        "</mj-raw></mj-column></mj-section></mj-body></mjml>"
    )
    css = ".pic { float: left; }"
    ours = compile_document(mjml, css)["html"]
    assert ours == compile_document(mjml, css, align_floating_images=True)["html"]
    assert 'align="left"' in ours and 'align="right"' in ours
    # A float in a style attribute alone (single quotes, capitals) is seen too.
    quoted = mjml.replace('class="pic"', "style='FLOAT:left'")
    ours = compile_document(quoted, "")["html"]
    assert ours.count('align="left"') == 1 and 'align="right"' in ours


def test_templates_are_compiled_once_and_again_when_a_file_changes(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    env = environment(config)
    template = env.get_template("digest.txt.j2")
    assert environment(config) is env
    assert environment(config).get_template("digest.txt.j2") is template
    # A template of the publication's own, overriding a bundled one: a new environment.
    own = tmp_path / "own"
    own.mkdir()
    (own / "quiet.txt.j2").write_text("{{ newsletter.title }}: nothing new\n", encoding="utf-8")
    custom = make_config(tmp_path, f"templates: {own}")
    assert environment(custom) is not env
    assert (
        environment(custom)
        .get_template("quiet.txt.j2")
        .render(newsletter={"title": "T"})
        .startswith("T: nothing new")
    )
    (own / "quiet.txt.j2").write_text("{{ newsletter.title }} again\n", encoding="utf-8")
    os.utime(own / "quiet.txt.j2", (1, 2_000_000_000))  # a different modification time
    assert (
        environment(custom)
        .get_template("quiet.txt.j2")
        .render(newsletter={"title": "T"})
        .startswith("T again")
    )
