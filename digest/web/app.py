"""The web service behind ``digest serve``: one-click unsubscribe and the issue archive.

Routes (under the path of ``newsletter.base_url``, if it has one):

- ``/unsubscribe/<token>``  ``POST`` unsubscribes at once and idempotently (RFC 8058 one-click:
  mailbox providers POST ``List-Unsubscribe=One-Click``; our own confirm button posts the same).
  ``GET``/``HEAD`` only show a page with a confirm button — link scanners fetch every link in
  an email, so fetching must never unsubscribe. An unknown, forged or tampered token gets the
  same 404 page whatever it is, and nothing changes.
- ``/subscribe``, ``/confirm/<token>``  the sign-up form and its double opt-in link, when
  ``signup:`` is configured (``web/signup.py``).
- ``/unsubscribe``           how to unsubscribe (where the archive's neutral link points).
- ``/issues``, ``/issues/<key>``, ``/issues/feed.xml``  the archive of sent issues and its RSS.
- ``/approve/<token>``       a proof's approve page, with ``schedule.approval: required``
  (``web/approve.py``): ``GET`` shows the button, ``POST`` approves, once.
- ``/preview``               the render stage's live preview, when ``serve.preview`` is on.
- ``/healthz``               for a load balancer or a process supervisor.

Tokens never reach a log: uvicorn's access log is off and ``RequestLog`` writes each request
with the token replaced by ``<redacted>``. Pages set ``Referrer-Policy: no-referrer`` so the
token in the address bar is not sent on to any link followed from the page.
"""

from __future__ import annotations

import copy
import errno
import logging
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from digest.config import Config
from digest.errors import RenderError, ServeError, StateError
from digest.state import ledger, signup, subscribers
from digest.state.db import Connection, open_for
from digest.web import archive
from digest.web.middleware import CanonicalOrigin, RequestLog, mask_address, redact_path

__all__ = ["create_app", "mask_address", "redact_path", "serve", "server"]

T = TypeVar("T")

if TYPE_CHECKING:
    from digest.web.preview import Upcoming

log = logging.getLogger("digest.web")

#: Our own pages: no scripts, nothing fetched from elsewhere, forms only to ourselves.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: An archived email: its images and inline styles, nothing that runs, no forms. ``sandbox``
#: gives the page an opaque origin, so even a script that slipped past rendering could do nothing.
ARCHIVE_CSP = (
    "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; font-src https: data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGES = (
    "issue_nav",
    "confirm",
    "unsubscribed",
    "link_invalid",
    "how_to_unsubscribe",
    "issues",
    "not_found",
    "unavailable",
)


class _Site:
    """The pages, with what they share: config, templates and a way to reach the database."""

    def __init__(self, config: Config):
        self.config = config
        self.base_url = config.newsletter.base_url
        #: Where the routes live: the path part of base_url (``https://x.org/news`` → ``/news``).
        self.prefix = re.sub(r"^https?://[^/]+", "", self.base_url)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in config.template_dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        newsletter = config.newsletter
        self.globals = {
            "title": newsletter.title,
            "prefix": self.prefix,
            "contact": newsletter.reply_to or newsletter.sender_address,
            "postal_address": newsletter.postal_address,
            "signup": config.signup is not None,
        }
        self.templates: dict[str, jinja2.Template] = {}
        for page in PAGES:
            name = f"web/{page}.html.j2"
            try:
                self.templates[page] = self.env.get_template(name)
            except jinja2.TemplateError as e:
                raise RenderError(f"template {name}: {e}") from None

    def page(
        self, page: str, status: int = 200, *, cache: str = "no-store", **context: Any
    ) -> HTMLResponse:
        try:
            body = self.templates[page].render(**self.globals, **context)
        except jinja2.TemplateError as e:
            raise RenderError(f"template web/{page}.html.j2: {e}") from e
        headers = {**_COMMON_HEADERS, "Content-Security-Policy": PAGE_CSP, "Cache-Control": cache}
        return HTMLResponse(body, status_code=status, headers=headers)

    async def db(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a fresh connection in a worker thread.

        A send holds SQLite's write lock for moments at a time; waiting for it (busy_timeout)
        must not stall the event loop, and one connection per request keeps transactions apart.
        """

        def run() -> T:
            conn = open_for(self.config)
            try:
                return work(conn)
            finally:
                conn.close()

        return await run_in_threadpool(run)

    # -- unsubscribe ----------------------------------------------------------------------

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            # The body (``List-Unsubscribe=One-Click``) is not required: the token is the proof.
            found = await self.db(lambda conn: subscribers.unsubscribe_by_token(conn, token))
        else:
            found = await self.db(lambda conn: subscribers.by_token(conn, token))
        if found is None:
            return self.page("link_invalid", 404)
        address = mask_address(found.email)
        if request.method != "POST" and found.status == "active":
            return self.page("confirm", address=address)
        return self.page("unsubscribed", address=address)

    async def how_to_unsubscribe(self, request: Request) -> Response:
        return self.page("how_to_unsubscribe", cache="public, max-age=3600")

    # -- archive --------------------------------------------------------------------------

    async def issues(self, request: Request) -> Response:
        found = await self.db(ledger.sent_issues)
        tz = self.config.newsletter.tz
        rows = [(i, i.sent_on(tz)) for i in found]
        return self.page("issues", rows=rows, cache="public, max-age=300")

    async def issue(self, request: Request) -> Response:
        key = request.path_params["key"]
        body = await self.db(lambda conn: archive.issue_html(conn, key, self.base_url))
        if body is None:
            raise HTTPException(404)
        body = archive.with_nav(body, self.templates["issue_nav"].render(**self.globals))
        headers = {
            **_COMMON_HEADERS,
            "Content-Security-Policy": ARCHIVE_CSP,
            "Cache-Control": "public, max-age=300",
        }
        return HTMLResponse(body, headers=headers)

    async def feed(self, request: Request) -> Response:
        found = await self.db(ledger.sent_issues)
        newsletter = self.config.newsletter
        body = archive.rss_feed(
            found,
            title=newsletter.title,
            base_url=self.base_url,
            description=f"Past issues of {newsletter.title}",
        )
        headers = {**_COMMON_HEADERS, "Cache-Control": "public, max-age=300"}
        return Response(body, media_type="application/rss+xml; charset=utf-8", headers=headers)

    # -- errors ---------------------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code != 404:
            return PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
        return self.page("not_found", 404)

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        # Say nothing changed: an unsubscribe that hit a locked or broken database must be retried.
        log.error("state database unavailable: %s", exc)
        response = self.page("unavailable", 503)
        response.headers["Retry-After"] = "60"
        return response


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


def _redirect_to(path: str) -> Callable[[Request], Response]:
    def redirect(request: Request) -> Response:
        return RedirectResponse(path, 302)

    return redirect


def create_app(config: Config, *, upcoming: Upcoming | None = None) -> Starlette:
    """The ASGI app for ``config``. Fails now, not on the first request, if the state database
    or a page template can't be used. ``upcoming``: see ``web.preview``."""
    site = _Site(config)
    conn = open_for(config)
    try:
        # Expired, never-confirmed sign-ups go at every start (and with each new sign-up).
        signup.purge_expired(conn, now=datetime.now(UTC))
    finally:
        conn.close()
    routes: list[BaseRoute] = [
        Route("/", _redirect_to(site.prefix + "/issues"), methods=["GET"]),
        Route("/unsubscribe", site.how_to_unsubscribe, methods=["GET"]),
        Route("/unsubscribe/{token}", site.unsubscribe, methods=["GET", "POST"]),
        Route("/issues", site.issues, methods=["GET"]),
        Route("/issues/feed.xml", site.feed, methods=["GET"]),
        Route("/issues/{key}", site.issue, methods=["GET"]),
    ]
    if config.schedule.approval == "required":
        from digest.web.approve import ApprovePages

        routes += ApprovePages(site).routes()
    if config.signup is not None:
        from digest.web.signup import SignupPages

        routes += SignupPages(site, config.signup).routes()
    if config.serve.preview:
        from digest.web.preview import create_preview_app

        routes.append(Mount("/preview", app=create_preview_app(config.path, upcoming=upcoming)))
    if site.prefix:
        routes = [Mount(site.prefix, routes=routes)]
    routes.append(Route("/healthz", healthz, methods=["GET"]))
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: site.not_found, StateError: site.unavailable},
        middleware=[Middleware(RequestLog), Middleware(CanonicalOrigin, site.base_url)],
    )


# -- running it ---------------------------------------------------------------------------


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up plus ours; uvicorn's access log (which shows tokens) stays off."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["digest"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def bind(host: str, port: int, *, fix: str = "pass --port or set serve.port") -> socket.socket:
    """A socket bound to ``host:port``, or a ``ServeError`` that says what to change (``fix``)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise ServeError(
            f"can't listen on {host!r} ({e.strerror}); pass --host or set serve.host"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            why = "is in use"
        elif e.errno == errno.EACCES:
            why = "needs privileges this user lacks"
        elif e.errno == errno.EADDRNOTAVAIL:
            raise ServeError(
                f"{host} is not an address of this machine; pass --host or set serve.host"
            ) from None
        else:
            why = f"can't be used ({e.strerror})"
        raise ServeError(f"port {port} on {host} {why}; {fix}") from None
    # Listening at once: a client that connects as soon as the address is announced waits in
    # the backlog until the server accepts, instead of being refused.
    sock.listen(2048)
    return sock


def server(
    config: Config,
    sock: socket.socket,
    *,
    logs: dict[str, Any] | None = None,
    upcoming: Upcoming | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``config`` on the bound ``sock`` (run it with ``.run([sock])``)."""
    host, port = sock.getsockname()[:2]
    settings = uvicorn.Config(
        create_app(config, upcoming=upcoming),
        host=host,
        port=port,
        access_log=False,
        log_config=logs,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    # ``access_log=False`` only strips the access logger's handlers, and uvicorn writes its
    # line (path, token and all) whenever that logger has a handler again — any log shipper or
    # test harness that attaches one would switch it back on. A disabled logger stays silent.
    logging.getLogger("uvicorn.access").disabled = True
    return uvicorn.Server(settings)


def serve(config: Config, host: str, port: int, *, upcoming: Upcoming | None = None) -> None:
    """Run the web service until interrupted (``digest serve``)."""
    sock = bind(host, port)
    try:
        running = server(config, sock, logs=log_config(), upcoming=upcoming)
        # uvicorn only announces the address for sockets it bound itself; a port of 0 picks
        # one at random, so say which.
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        log.info("serving on http://%s:%d (press CTRL+C to quit)", shown, bound_port)
        running.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on CTRL+C, then re-raises the signal; for a server that
        # is the normal way to stop, not an error.
        log.info("stopped")
    finally:
        sock.close()
