"""The approve link of a ``[PROOF]`` mail (``schedule.approval: required``).

- ``GET /approve/<token>``   shows the issue (key, subject, how many reviews, when prepared)
  and an Approve button: link scanners open every link in a mail, so opening it approves
  nothing.
- ``POST /approve/<token>``  approves the issue once (``state.approvals.approve_by_token``): a
  forged, used or replaced link — a later ``digest prepare`` sends a new one — is "not valid"
  (404) and changes nothing.

Tokens are redacted from the request log like unsubscribe ones. The page never sends mail: a
held issue goes out at the scheduler's next look (or at once with ``digest approve``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.pipeline.approval import held_deadline
from digest.state import approvals
from digest.state.approvals import Approval
from digest.web.signup import Site

PAGES = ("approve", "approved")


class ApprovePages:
    def __init__(self, site: Site):
        self.site = site
        for page in PAGES:
            site.templates[page] = site.env.get_template(f"web/{page}.html.j2")

    def routes(self) -> list[Route]:
        return [Route("/approve/{token}", self.approve, methods=["GET", "POST"])]

    async def approve(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = datetime.now(UTC)
        state = self.site.config.state
        found = await self.site.db(lambda conn: approvals.check_token(conn, token))
        if found is None:
            return self.site.page("link_invalid", 404)
        if request.method != "POST":
            return self.site.page("approve", **self._about(found))
        done = await self.site.db(
            lambda conn: approvals.approve_by_token(conn, token, now=now, path=state)
        )
        if done is None:  # approved by someone else between the two reads
            return self.site.page("link_invalid", 404)
        return self.site.page("approved", **self._about(found))

    def _about(self, found: Approval) -> dict[str, Any]:
        config = self.site.config
        prepared = datetime.fromisoformat(found.prepared_at).astimezone(config.newsletter.tz)
        return {
            "key": found.key,
            "subject": found.draft.subject,
            "reviews": len(found.draft.reviews),
            "prepared": prepared.strftime("%a %d %b %Y %H:%M %Z"),
            "held": found.status == "held",
            "deadline": held_deadline(config, found),
        }
