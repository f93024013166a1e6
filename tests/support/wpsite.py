"""A WordPress REST API on the loopback server, answering from fixture files.

It honours what the posts endpoint is asked: ``after`` / ``before`` (GMT), ``categories``,
``tags``, ``categories_exclude``, ``tags_exclude``, ``per_page`` / ``page`` and ``_fields``,
with ``X-WP-Total`` and ``X-WP-TotalPages``; the categories and tags endpoints answer
``slug=a,b``. Every request is recorded by the server, so a test can check what was asked.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from support.http import Request, ScriptedServer

FIXTURES = Path(__file__).resolve().parents[1] / "collect" / "fixtures"
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def _ids(request: Request, name: str) -> set[int]:
    raw = request.query.get(name, [""])[0]
    return {int(i) for i in raw.split(",") if i.strip().isdigit()}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z"))


def _keep(post: dict[str, Any], request: Request) -> bool:
    when = _when(post["date_gmt"])
    q = request.query
    if "after" in q and not when > _when(q["after"][0]):
        return False
    if "before" in q and not when < _when(q["before"][0]):
        return False
    for name in ("categories", "tags"):
        held = set(post.get(name, []))
        wanted, unwanted = _ids(request, name), _ids(request, f"{name}_exclude")
        if (wanted and not held & wanted) or held & unwanted:
            return False
    return True


def posts_handler(posts: list[dict[str, Any]]) -> Any:
    def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
        found = [p for p in sorted(posts, key=lambda p: p["date_gmt"], reverse=True)
                 if _keep(p, request)]  # fmt: skip
        per_page = int(request.query.get("per_page", ["10"])[0])
        page = int(request.query.get("page", ["1"])[0])
        pages = max(1, -(-len(found) // per_page))
        chunk = found[(page - 1) * per_page : page * per_page]
        if "_fields" in request.query:
            fields = request.query["_fields"][0].split(",")
            chunk = [{k: p[k] for k in fields if k in p} for p in chunk]
        headers = {**JSON, "X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)}
        return 200, headers, json.dumps(chunk).encode()

    return handler


def terms_handler(terms: list[dict[str, Any]]) -> Any:
    def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
        slugs = set(request.query.get("slug", [""])[0].split(","))
        found = [t for t in terms if t["slug"] in slugs]
        return 200, JSON, json.dumps(found).encode()

    return handler


def serve_site(server: ScriptedServer, prefix: str = "/wp") -> str:
    """Serve the fixture site under ``prefix``; returns the site URL for the config."""
    posts = json.loads((FIXTURES / "wordpress-posts.json").read_text(encoding="utf-8"))
    api = f"{prefix}/wp-json/wp/v2"
    server.route(f"{api}/posts", handler=posts_handler(posts))
    for taxonomy in ("categories", "tags"):
        terms = json.loads((FIXTURES / f"wordpress-{taxonomy}.json").read_text(encoding="utf-8"))
        server.route(f"{api}/{taxonomy}", handler=terms_handler(terms))
    return server.url(prefix)
