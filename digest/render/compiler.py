"""Compile MJML to final email HTML in a child process that may crash without harm.

mjml-python is a native library: a pathological document can kill the process it runs in with
no Python exception. So the compiler (MJML, then premailer) runs in a separate Python process
fed one JSON line per document. If the child dies, hangs or reports an error, the caller gets a
``RenderError`` and carries on.

One child serves the whole process (``shared_compiler``): started on the first render, reused
by every later one — ``digest preview``'s re-renders, the clip guard's trimming passes, a
build, a confirmation mail — and replaced by a fresh one the next time it is asked for after it
crashed or was stopped for taking too long. Before issue 18 each ``render_digest`` started its
own child: about 150 ms of a 337 ms render was Python starting and importing premailer.

The child also has no network: sockets are refused and cssutils' URL fetcher (which premailer
would use for ``@import``, including ``file://``) is replaced by one that refuses, so neither a
template nor a feed can make rendering fetch anything.

Run as ``python -m digest.mjml_worker``; the parent side is ``Compiler``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from digest.errors import RenderError

#: How to start the child; a seam for tests, which substitute a child that crashes.
WORKER_ARGV: tuple[str, ...] = (sys.executable, "-m", "digest.render.compiler")
#: Longest a single document may take to compile before the child is killed.
COMPILE_TIMEOUT = 120.0

_DOCTYPE = "<!doctype html>"
_STYLE_TAG = re.compile(r"<style(?=[\s>])", re.IGNORECASE)
_IMPORT_RULE = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_TAG_NAME_ENDS = (b">", b" ", b"\t", b"\n", b"\r", b"\x0c", b"/")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled document and how long each stage took in the child."""

    html: str
    mjml_seconds: float
    premailer_seconds: float


class Compiler:
    """One child process; ``compile`` may be called often. As a ``with`` block it lives for
    the block; ``shared_compiler`` keeps one for the whole process instead. ``compile`` is
    ``send`` then ``receive``: a caller with other work to do (the text part) does it between
    the two, while the child compiles."""

    def __init__(self, argv: tuple[str, ...] | None = None, timeout: float = COMPILE_TIMEOUT):
        # Read at start-up, not import time, so a test can substitute a crashing child.
        self.argv = argv or WORKER_ARGV
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._owner = os.getpid()
        self._deadline: float | None = None  # set by send(), until receive()

    def __enter__(self) -> Compiler:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Compiler:
        # stderr goes to a file, not a pipe: a chatty child can never block on a full pipe.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except OSError as e:
            self._stderr.close()
            raise RenderError(f"could not start the MJML compiler ({e})") from e
        return self

    def usable(self) -> bool:
        """Still running, started by this process, and for the current ``WORKER_ARGV``."""
        proc = self._proc
        return (
            proc is not None and proc.poll() is None and self._owner == os.getpid()
            and self.argv == WORKER_ARGV
        )  # fmt: skip

    def close(self) -> None:
        """End the child: its input closed, it exits; killed if it has not within 5 s."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin and not proc.stdin.closed:
                with contextlib.suppress(OSError):  # the child may already be gone
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the compiler is not running")
        return self._proc.pid

    def compile(self, mjml: str, inline_css: str = "") -> Compiled:
        """The final HTML for one MJML document, or ``RenderError`` saying what went wrong."""
        self.send(mjml, inline_css)
        return self.receive()

    def send(self, mjml: str, inline_css: str = "") -> None:
        """Hand the child one document; ``receive`` gets the result. In between, this process
        is free: the render makes the text part while the child compiles the HTML."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise RuntimeError("Compiler.send() called outside its with block")
        if self._deadline is not None:  # a reply never received: the render failed in between
            with contextlib.suppress(RenderError):
                self.receive()
        request = json.dumps({"mjml": mjml, "inline_css": inline_css}).encode() + b"\n"
        self._deadline = time.monotonic() + self._timeout
        self._write_all(proc, proc.stdin.fileno(), request, self._deadline)

    def receive(self) -> Compiled:
        """The result of the last ``send`` (``COMPILE_TIMEOUT`` counts from the send)."""
        proc = self._proc
        if proc is None or proc.stdout is None or self._deadline is None:
            raise RuntimeError("Compiler.receive() called without a send")
        deadline, self._deadline = self._deadline, None
        reply: dict[str, Any] = json.loads(self._read_line(proc, proc.stdout.fileno(), deadline))
        if "error" in reply:
            raise RenderError(f"the MJML compiler rejected the document: {reply['error']}")
        return Compiled(reply["html"], reply["mjml_seconds"], reply["premailer_seconds"])

    def _stop(self, proc: subprocess.Popen[bytes]) -> RenderError:
        proc.kill()
        proc.wait()
        return RenderError(
            f"the MJML compiler took longer than {self._timeout:.0f}s and was stopped"
        )

    def _write_all(
        self, proc: subprocess.Popen[bytes], fd: int, data: bytes, deadline: float
    ) -> None:
        # Non-blocking, so a child that stops reading can't hang us past the deadline.
        os.set_blocking(fd, False)
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [fd], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise self._stop(proc)
            try:
                view = view[os.write(fd, view[: 1 << 16]) :]
            except BlockingIOError:
                continue
            except OSError:  # the child is gone (broken pipe)
                raise self._died() from None

    def _read_line(self, proc: subprocess.Popen[bytes], fd: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while True:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise self._stop(proc)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)

    def _died(self) -> RenderError:
        assert self._proc is not None and self._stderr is not None
        code = self._proc.wait()
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        self._stderr.seek(0)
        tail = self._stderr.read()[-500:].decode("utf-8", "replace").strip()
        detail = f": {tail.splitlines()[-1]}" if tail else ""
        return RenderError(
            f"the MJML compiler crashed ({how}){detail}; nothing was sent — check the "
            "templates and the newest reviews, then run `digest build` to reproduce"
        )


_shared: Compiler | None = None
_shared_lock = threading.RLock()


@contextlib.contextmanager
def shared_compiler() -> Iterator[Compiler]:
    """This process's render worker, for one render (held alone for the block's length).

    Started on first use and kept; replaced when it is no longer ``usable`` — it crashed, was
    stopped after ``COMPILE_TIMEOUT``, was started before a fork, or a test changed
    ``WORKER_ARGV``. A crash is still one ``RenderError`` for the render it happened in; the
    next render gets a fresh child. Closed when the process exits.
    """
    global _shared
    with _shared_lock:
        worker = _shared
        if worker is None or not worker.usable():
            if worker is not None and worker._owner == os.getpid():
                worker.close()
            worker = _shared = Compiler().start()
        yield worker


def _close_shared() -> None:
    global _shared
    with _shared_lock:
        worker, _shared = _shared, None
        if worker is not None and worker._owner == os.getpid():
            worker.close()


atexit.register(_close_shared)


# ---------------------------------------------------------------------------------------------
# The child
# ---------------------------------------------------------------------------------------------


def _refuse(*args: object, **kwargs: object) -> Any:
    raise OSError("network access is disabled while rendering")


def _forbid_network() -> None:
    """Make any fetch in this process fail: sockets, and cssutils' urllib/file fetcher."""
    import socket

    import cssutils.util

    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
    cssutils.util._defaultFetcher = _refuse


def compile_document(
    mjml_text: str, inline_css: str, *, align_floating_images: bool = False
) -> dict[str, Any]:
    """MJML → HTML → premailer, configured so nothing is fetched, dropped or stripped.

    ``align_floating_images`` is premailer's pass that parses the style of every ``<img>``
    again with cssutils to copy a ``float`` into an ``align`` attribute (for Outlook): 75–80 %
    of premailer's time on our issues, where no image floats (the bundled templates' ``<img>``
    styles say ``display:block``, MJML's own say ``border:0;display:block;…``). So it runs only
    when a style attribute or the CSS to inline mentions ``float`` (``_floats``);
    ``tests/render/test_worker.py`` checks the output is the same as with the pass always
    on, for the golden issues and for a template whose images do float.
    """
    import logging

    import mjml
    import premailer

    started = time.perf_counter()
    # fonts={} keeps MJML from adding Google Fonts <link>s and @imports.
    html = mjml.mjml2html(mjml_text, fonts={}, disable_comments=False)
    compiled = time.perf_counter()
    # MJML's own <style> blocks (responsive @media rules with !important, Outlook fixes) must
    # reach the client untouched: premailer skips and keeps any tag marked "ignore". Only the
    # template's <mj-style inline="inline"> CSS, handed over as css_text, is inlined.
    html = _STYLE_TAG.sub('<style data-premailer="ignore"', html)
    inliner = premailer.Premailer(
        html=html,
        base_url=None,
        allow_network=False,
        allow_loading_external_files=False,
        external_styles=None,
        css_text=[_IMPORT_RULE.sub("", inline_css)] if inline_css.strip() else None,
        keep_style_tags=True,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        disable_link_rewrites=True,
        exclude_pseudoclasses=True,
        align_floating_images=align_floating_images or _floats(html, inline_css),
        cssutils_logging_level=logging.CRITICAL,
    )
    html = inliner.transform(pretty_print=False)
    # lxml only keeps a doctype written in upper case; MJML writes "<!doctype html>".
    if html.lstrip()[:9].lower() != "<!doctype":
        html = f"{_DOCTYPE}\n{html}"
    done = time.perf_counter()
    return {"html": html, "mjml_seconds": compiled - started, "premailer_seconds": done - compiled}


def _floats(html: str, inline_css: str) -> bool:
    """Could an image end up with a ``float`` style? Only if a ``style=`` attribute in MJML's
    output says so (a template's own) or the CSS premailer inlines does: nothing else reaches
    a style attribute. A ``float`` in a ``<style>`` block (the design's phone layout has one
    in a media query) never does: those blocks are left alone, ``data-premailer="ignore"``.
    So the word is looked for outside them (in text too: a film called "Float" only costs
    the pass). Searched in the ASCII-lowered UTF-8 bytes with ``bytes.find``: a regex ``sub``
    and a ``lower()`` of the whole document took 0.7 ms of a 4 ms compile, this 0.2 ms."""
    if b"float" in inline_css.encode().lower():
        return True
    text, start = html.encode().lower(), 0
    while (opened := text.find(b"<style", start)) != -1:
        if text[opened + 6 : opened + 7] not in _TAG_NAME_ENDS:  # <styles>: not a style block
            if text.find(b"float", start, opened + 6) != -1:
                return True
            start = opened + 6
            continue
        if text.find(b"float", start, opened) != -1:
            return True
        closed = text.find(b"</style", opened)
        if closed == -1:  # never closed: the rest is looked at too
            return text.find(b"float", opened) != -1
        start = closed + len(b"</style")
    return text.find(b"float", start) != -1


def main() -> None:
    _forbid_network()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            reply = compile_document(request["mjml"], request["inline_css"])
        except Exception as e:  # reported to the parent as a RenderError
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
