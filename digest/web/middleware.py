"""The web service's two ASGI middlewares — the request log with tokens redacted, and the
canonical origin — and the masked address pages show."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("digest.web")


def mask_address(email: str) -> str:
    """``jo@example.org`` → ``j•••@example.org``: enough to recognise, not enough to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def redact_path(path: str) -> str:
    """A request path fit for a log: no unsubscribe token, no control characters, bounded."""
    path = re.sub(
        r"(/(?:unsubscribe|confirm|approve)/).*",
        r"\1<redacted>",
        path,
        flags=re.IGNORECASE | re.DOTALL,
    )
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in path[:300])


class RequestLog:
    """ASGI middleware: one log line per request — method, redacted path, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                redact_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )


class CanonicalOrigin:
    """ASGI middleware: every URL built from a request uses ``newsletter.base_url``'s origin.

    Starlette builds absolute URLs (the trailing-slash redirects, ``request.url``) from the
    request's scheme and ``Host`` header. Behind a proxy that passes ``Host`` through, that is
    an open redirect (``/issues/KEY/`` → ``Location: http://<Host>/…``), so the scheme and
    ``Host`` are replaced with the configured ones before any route sees the request.
    """

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("idna")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {**scope, "scheme": self.scheme, "headers": [(b"host", self.host), *headers]}
        await self.app(scope, receive, send)
