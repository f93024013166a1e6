"""Real browser tests: Debian's headless chromium driven by Playwright, and ASGI apps on loopback.

Playwright never downloads a browser here; it starts ``/usr/bin/chromium`` (installed by
``.ci/run``). Every request that is not to 127.0.0.1 is answered locally with an empty 404, so
a test stays offline even when a page names https images or fonts.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1, a free port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _offline(route: Any) -> None:
    url: str = route.request.url
    if url.startswith(("http://127.0.0.1", "https://127.0.0.1", "data:", "about:")):
        route.continue_()
    else:
        route.fulfill(status=404, body="")


def _block_images(route: Any) -> None:
    if route.request.resource_type == "image":
        route.abort("blockedbyclient")
    else:
        route.fallback()


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """A headless Debian chromium; the test is skipped only when chromium is not installed.
    ``extra_args``: more command-line switches (e.g. ``--force-dark-mode``)."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_at(
    browser: Any, width: int, height: int = 900, *, block_images: bool = False
) -> Iterator[Any]:
    """A fresh page of the given viewport width that can reach only 127.0.0.1 (its https with
    a test certificate too). ``block_images``: every image request fails, as in a mail client
    that blocks remote images (Outlook's default) and shows the alt text instead."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, ignore_https_errors=True
    )
    context.route("**/*", _offline)
    if block_images:
        context.route(lambda url: True, _block_images)
    try:
        yield context.new_page()
    finally:
        context.close()
