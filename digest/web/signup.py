"""The sign-up form and its confirmation link (double opt-in), when ``signup:`` is configured.

- ``GET /subscribe``           the form (email, optional name). Any site may post to it.
- ``POST /subscribe``          always answers "check your inbox" for a valid address, whether
  it is new, pending, already active, unsubscribed, bounced or over its limits: the page must
  not tell a visitor who is on the list. The confirmation mail is sent *after* the response
  (a background task), so the answer takes as long whether a mail goes out or not. A hidden
  field that people leave empty catches form-filling bots (answered the same, nothing done).
- ``GET /confirm/<token>``     only shows a "Confirm" button: link scanners open every link in
  an email, so opening it never subscribes anyone.
- ``POST /confirm/<token>``    makes the address active. A used link is "not valid" (404), an
  expired one says so (410) and points back to the form. With ``signup.welcome: true``, the
  address is then sent a welcome mail (``welcome.*`` templates) after the answer: only the
  one POST that confirmed the link sends it, so a reused link sends nothing; the page is the
  same whether it leaves or not, and a failure to send it is logged and recorded on the
  ``confirmed`` event (``welcome: failed`` and the error) — the address stays active.

Limits (``signup.per_address`` confirmation mails per address per day, ``signup.per_ip``
sign-ups per IP address per hour) are counted in the state database, so they hold across
restarts and several server processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs

import jinja2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.config import Config, Signup
from digest.deliver import make_transport
from digest.deliver.notice import build_notice, envelope_sender, send_notice
from digest.errors import DigestError, RenderError, SubscriberError
from digest.pipeline.run import dkim_signer
from digest.render.notice import NoticeMail, render_confirmation, render_welcome
from digest.state import events, signup
from digest.state.db import open_for

T = TypeVar("T")
log = logging.getLogger("digest.web")
PAGES = ("subscribe", "signup_sent", "confirm_signup", "signup_confirmed", "signup_link")
#: A sign-up form is a few hundred bytes; anything much larger is not one.
MAX_BODY = 8192


class Site(Protocol):
    """What the pages need of ``web.app``'s site: its config, templates and database."""

    config: Config
    base_url: str
    env: jinja2.Environment
    templates: dict[str, jinja2.Template]

    def page(self, page: str, status: int = 200, *, cache: str = ..., **context: Any
             ) -> HTMLResponse: ...  # fmt: skip

    def db(self, work: Callable[[Any], T]) -> Awaitable[T]: ...


class SignupPages:
    def __init__(self, site: Site, settings: Signup):
        self.site = site
        self.config: Config = site.config
        self.settings = settings
        self._mail: NoticeMail | None = None
        self._welcome: NoticeMail | None = None
        self._lock = threading.Lock()
        for page in PAGES:
            name = f"web/{page}.html.j2"
            try:
                site.templates[page] = site.env.get_template(name)
            except jinja2.TemplateError as e:
                raise RenderError(f"template {name}: {e}") from None

    def routes(self) -> list[Route]:
        return [
            Route("/subscribe", self.form, methods=["GET"]),
            Route("/subscribe", self.subscribe, methods=["POST"]),
            Route("/confirm/{token}", self.confirm, methods=["GET", "POST"]),
        ]

    async def form(self, request: Request) -> Response:
        return self.site.page("subscribe", email="", name="", error="")

    async def subscribe(self, request: Request) -> Response:
        fields = await _form(request)
        email, name = fields.get("email", ""), fields.get("name", "")
        if fields.get("website"):  # the hidden field: a bot filled in every box
            return self.site.page("signup_sent", address=_mask(email))
        ip = request.client.host if request.client else ""
        now = datetime.now(UTC)
        try:
            asked = await self.site.db(
                lambda conn: signup.request(
                    conn, email, name, now=now, ip=ip, within=self.settings.confirm_period,
                    per_address=self.settings.per_address, per_ip=self.settings.per_ip,
                    per_hour=self.settings.per_hour,
                )
            )  # fmt: skip
        except SubscriberError:
            error = "That doesn't look like an email address. Please check it and try again."
            return self.site.page("subscribe", 400, email=email[:254], name=name[:200], error=error)
        response = self.site.page("signup_sent", address=_mask(asked.email))
        if asked.outcome == "capped":
            log.warning("over signup.per_hour: a sign-up was recorded but no mail was sent")
        if asked.outcome == "mail":
            response.background = BackgroundTask(self._send, asked.email, asked.name, asked.token)
        return response

    def _send(self, email: str, name: str, token: str) -> None:
        """Render (once), build and send one confirmation mail; failures are logged."""
        try:
            with self._lock:
                if self._mail is None:
                    self._mail = render_confirmation(self.config, self.settings.confirm_period)
            link = f"{self.site.base_url}/confirm/{token}"
            html, text = self._mail.fill(name, confirm_url=link)
            data, message_id = build_notice(
                self.config, email, self._mail.subject, text, html, when=datetime.now(UTC)
            )
            send_notice(self.config, make_transport(self.config), email, data, message_id,
                        dkim_signer(self.config))  # fmt: skip
        except DigestError as e:
            log.error("confirmation mail not sent: %s", e)

    def _send_welcome(self, found: signup.Confirmation) -> None:
        """Render (once), build and send the welcome to an address that has just confirmed;
        record on its ``confirmed`` event whether it left. Never raises: the confirmation
        stands either way."""
        outcome: dict[str, object]
        try:
            with self._lock:
                if self._welcome is None:
                    self._welcome = render_welcome(self.config)
            mail = self._welcome
            unsubscribe = f"{self.site.base_url}/unsubscribe/{found.token}"
            html, text = mail.fill(found.name, unsubscribe_url=unsubscribe)
            data, message_id = build_notice(
                self.config, found.email, mail.subject, text, html, when=datetime.now(UTC),
                kind="welcome", unsubscribe_token=found.token,
            )  # fmt: skip
            send_notice(
                self.config, make_transport(self.config), found.email, data, message_id,
                dkim_signer(self.config),
                sender=envelope_sender(self.config, "welcome", found.token),
            )  # fmt: skip
            outcome = {"welcome": "sent", "welcome_message_id": message_id}
        except (DigestError, OSError) as e:
            log.error("welcome mail not sent: %s", e)
            outcome = {"welcome": "failed", "welcome_error": str(e)[:300]}
        try:
            conn = open_for(self.config)
            try:
                events.add_evidence(conn, found.subscriber_id, "confirmed", outcome)
            finally:
                conn.close()
        except DigestError as e:
            log.error("welcome mail outcome not recorded: %s", e)

    async def confirm(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = datetime.now(UTC)
        if request.method == "POST":
            found = await self.site.db(lambda conn: signup.confirm(conn, token, now=now))
        else:
            found = await self.site.db(lambda conn: signup.check(conn, token, now=now))
        if found.outcome == "invalid":
            return self.site.page("signup_link", 404, expired=False)
        if found.outcome == "expired":
            return self.site.page("signup_link", 410, expired=True)
        page = "confirm_signup" if found.outcome == "ready" else "signup_confirmed"
        response = self.site.page(page, address=_mask(found.email))
        if found.outcome == "confirmed" and self.settings.welcome:
            response.background = BackgroundTask(self._send_welcome, found)
        return response


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form fields (first value of each), from a body of bounded size."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return {}
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, max_num_fields=20).items() if v}


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain[:100]}" if domain else "your address"
