"""``digest preview``: the current period's digest on localhost, re-rendered as you edit.

Routes: ``/`` the HTML email, ``/text`` the plain-text part, ``/phone`` the email in a 375 px
frame. On each request the preview compares the modification times of the config file, the
template folders, the folder sources and the editor's notes with what it last rendered, and
re-renders when any changed; network sources are re-collected at most every ``RECOLLECT_AFTER``
seconds, so editing a template does not refetch every feed.

``create_preview_app(config_path)`` is also mounted by ``digest serve`` at ``/preview``.

Above the email, a banner says where the issue stands (``pipeline.approval.issue_stage``:
collecting, proofed, approved, held, sending, sent) and names its editor's note; ``/text`` shows
the same line above the text part. The note is one of the watched inputs, so editing it re-renders.
With ``schedule.approval: required`` the issue shown is the one editors work on (``upcoming``,
passed in by the command: the next send's, or a held one still in its grace), and an approved
issue is shown as approved — frozen — not re-rendered.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.collect.collection import Collection, collect
from digest.config import Config, FolderSettings, load_config
from digest.errors import DigestError
from digest.models import Period
from digest.period import current_period
from digest.pipeline.approval import issue_stage
from digest.pipeline.issue import PreparedIssue, look_at_issue
from digest.render.compose import (
    NEUTRAL_NAME,
    neutral_html,
    neutral_text,
    neutral_unsubscribe_url,
    neutralise,
)
from digest.render.environment import template_files
from digest.render.proof import with_banner

#: Seconds before network sources (feeds, WordPress) are fetched again.
RECOLLECT_AFTER = 60.0
PHONE_WIDTH = 375
_CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"

Fingerprint = tuple[tuple[str, int, int], ...]
#: The period of the issue editors work on at a moment (injected: the web can't see cron).
Upcoming = Callable[[Config, datetime], Period]


def _fingerprint(paths: list[Path]) -> Fingerprint:
    found = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            found.append((str(path), -1, -1))  # a vanished file is a change too
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


def _notes(config: Config) -> list[Path]:
    """The notes folder and its notes: adding, editing or removing one re-renders."""
    if not config.notes.is_dir():
        return []
    return [config.notes, *sorted(config.notes.glob("*.md"))]


def _folder_files(config: Config) -> list[Path]:
    files: list[Path] = []
    for source in config.sources:
        if isinstance(source, FolderSettings) and source.path.is_dir():
            files.append(source.path)
            files.extend(p for p in source.path.rglob("*") if p.is_file())
    return files


@dataclass(frozen=True, slots=True)
class Page:
    """What the routes serve: the digest, or an explanation of why there is none."""

    html: str
    text: str
    notice: str = ""
    error: str = ""
    #: Where the issue stands (``Stage.line``), shown above the email and the text part.
    stage: str = ""


class Previewer:
    """Keeps the last render and re-does as little as the changes require."""

    def __init__(
        self,
        config_path: Path,
        clock: Callable[[], datetime] | None = None,
        upcoming: Upcoming | None = None,
    ):
        self.config_path = config_path
        self.clock = clock or (lambda: datetime.now(UTC))
        self.upcoming = upcoming
        self._lock = threading.Lock()
        self._page: Page | None = None
        self._inputs: Fingerprint = ()
        self._sources: Fingerprint = ()
        self._collection: Collection | None = None
        self._collected_at = 0.0
        self._key: str | None = None
        self.renders = 0

    def page(self) -> Page:
        with self._lock:  # one render at a time; other requests wait for its result
            try:
                return self._with_stage(self._refresh())
            except DigestError as e:
                self._page = None
                return Page(html="", text="", error=str(e))

    def _period(self, config: Config) -> Period | None:
        if self.upcoming is None or config.schedule.approval != "required":
            return None
        return self.upcoming(config, self.clock())

    def _with_stage(self, page: Page) -> Page:
        """The page with the issue's state on top; read at every request (it is one look at
        the state file), so an approval shows at the next reload."""
        config = load_config(self.config_path)
        key = self._key or current_period(config, self.clock()).key
        stage = issue_stage(config, key)
        if stage.frozen is not None:
            base = config.newsletter.base_url
            draft = stage.frozen
            page = Page(
                neutralise(draft.html, draft.markers, base),
                draft.text.replace(
                    draft.markers.unsubscribe_url, neutral_unsubscribe_url(base)
                ).replace(draft.markers.name, NEUTRAL_NAME),
            )
        if page.error:
            return page
        notice = f"{page.notice} ({stage.line})" if page.notice else ""
        return Page(
            with_banner(page.html, html.escape(stage.line), css_class="preview-stage"),
            page.text,
            notice=notice,
            stage=stage.line,
        )

    def _refresh(self) -> Page:
        config_fp = _fingerprint([self.config_path])
        config = load_config(self.config_path)
        sources = config_fp + _fingerprint(_folder_files(config))
        inputs = sources + _fingerprint(template_files(config)) + _fingerprint(_notes(config))
        stale = time.monotonic() - self._collected_at > RECOLLECT_AFTER
        if self._collection is None or sources != self._sources or stale:
            self._collection = collect(config, now=self.clock())
            self._collected_at = time.monotonic()
            self._sources = sources
            self._page = None
        if self._page is None or inputs != self._inputs:
            period = self._period(config)
            self._key = period.key if period is not None else None
            built = look_at_issue(
                config, now=self.clock(), period=period, collection=self._collection
            )
            self._page = self._render(config, built)
            self._inputs = inputs
            self.renders += 1
        return self._page

    @staticmethod
    def _render(config: Config, built: PreparedIssue) -> Page:
        if built.rendered is None:
            return Page(html="", text="", notice=built.why_nothing)
        base = config.newsletter.base_url
        return Page(neutral_html(built.rendered, base), neutral_text(built.rendered, base))


def _frame(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:24px;color:#1f2328}"
        "pre{white-space:pre-wrap;font:14px/1.5 ui-monospace,monospace;max-width:80ch}"
        ".err{color:#cf222e}</style></head><body>"
        f"{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status)


def _problem(page: Page) -> HTMLResponse | None:
    if page.error:
        return _frame(
            "Preview error",
            f"<h1>The digest could not be rendered</h1><p class=err>{html.escape(page.error)}</p>"
            "<p>Fix it and reload this page.</p>",
            status=500,
        )
    if page.notice:
        return _frame(
            "Nothing to send", f"<h1>Nothing to send</h1><p>{html.escape(page.notice)}</p>"
        )
    return None


def create_preview_app(
    config_path: str | Path,
    *,
    clock: Callable[[], datetime] | None = None,
    upcoming: Upcoming | None = None,
) -> Starlette:
    """The preview as an ASGI app; ``clock`` pins "now" (tests), else the real time;
    ``upcoming`` picks the issue editors work on (``schedule.editorial.upcoming_period``)."""
    previewer = Previewer(Path(config_path), clock, upcoming)

    async def email(request: Request) -> Response:
        page = await run_in_threadpool(previewer.page)
        # Belt and braces: the email has no scripts, and the browser is told to run none.
        return _problem(page) or HTMLResponse(page.html, headers={"Content-Security-Policy": _CSP})

    async def text(request: Request) -> Response:
        page = await run_in_threadpool(previewer.page)
        stage = f'<p class="preview-stage">{html.escape(page.stage)}</p>'
        return _problem(page) or _frame(
            "Plain-text part", f"{stage}<pre>{html.escape(page.text)}</pre>"
        )

    async def phone(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        return _frame(
            "Phone preview",
            f'<p><a href="{html.escape(root)}/">full width</a> · '
            f'<a href="{html.escape(root)}/text">text part</a></p>'
            f'<iframe src="{html.escape(root)}/" title="The digest at phone width" '
            f'style="width:{PHONE_WIDTH}px;height:740px;border:1px solid #d0d7de">'
            "</iframe>",
        )

    app = Starlette(
        routes=[Route("/", email), Route("/text", text), Route("/phone", phone)],
    )
    app.state.previewer = previewer
    return app
