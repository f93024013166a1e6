"""One-click unsubscribe over real HTTP: only a POST with a known token changes anything.

Every test talks to the real app on a real uvicorn server on 127.0.0.1 and checks the state
database file afterwards.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.web import add_subscriber, running, status_of, write_web_config

from digest.config import Config
from digest.state import db
from digest.web.app import redact_path

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
INVALID_TITLE = "This link is not valid or has expired"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_web_config(tmp_path)


@pytest.fixture
def site(config: Config) -> Iterator[httpx.Client]:
    with running(config) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield client


def _statuses(config: Config) -> list[tuple[str, str, str]]:
    conn = db.connect(config.state)
    try:
        rows = conn.execute("SELECT email, status, updated_at FROM subscribers ORDER BY id")
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def test_get_shows_a_confirm_form_and_changes_nothing(config: Config, site: httpx.Client) -> None:
    jo = add_subscriber(config, "jo.marsh@example.net", "Jo Marsh")
    page = site.get(f"/unsubscribe/{jo.token}")
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert "j•••@example.net" in page.text
    assert "jo.marsh@example.net" not in page.text and "Jo Marsh" not in page.text
    assert jo.token not in page.text  # the form posts to the page's own address
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert status_of(config, jo.email) == "active"


def test_a_link_scanner_fetching_the_link_never_unsubscribes(
    config: Config, site: httpx.Client
) -> None:
    jo = add_subscriber(config, "scanned@example.net")
    before = _statuses(config)
    for _ in range(3):
        assert site.get(f"/unsubscribe/{jo.token}").status_code == 200
        assert site.head(f"/unsubscribe/{jo.token}").status_code == 200
        assert site.options(f"/unsubscribe/{jo.token}").status_code == 405
    assert site.get(f"/unsubscribe/{jo.token}", follow_redirects=True).status_code == 200
    assert _statuses(config) == before


def test_one_click_post_unsubscribes_at_once_and_a_second_post_is_the_same(
    config: Config, site: httpx.Client
) -> None:
    jo = add_subscriber(config, "leaving@example.net")
    stays = add_subscriber(config, "staying@example.net")
    first = site.post(f"/unsubscribe/{jo.token}", data=ONE_CLICK)
    assert first.status_code == 200
    assert "You’re unsubscribed" in first.text and "l•••@example.net" in first.text
    assert "leaving@example.net" not in first.text
    assert status_of(config, jo.email) == "unsubscribed"
    after_first = _statuses(config)
    second = site.post(f"/unsubscribe/{jo.token}", data=ONE_CLICK)
    assert (second.status_code, second.text) == (200, first.text)
    assert _statuses(config) == after_first  # not even updated_at moved
    assert status_of(config, stays.email) == "active"
    # Afterwards the link shows the outcome, with no button to press again.
    again = site.get(f"/unsubscribe/{jo.token}")
    assert again.status_code == 200 and "You’re unsubscribed" in again.text
    assert "<form" not in again.text


def test_the_publication_can_resubscribe_an_address_afterwards(
    config: Config, site: httpx.Client
) -> None:
    jo = add_subscriber(config, "back-again@example.net")
    assert site.post(f"/unsubscribe/{jo.token}", data=ONE_CLICK).status_code == 200
    again = add_subscriber(config, "back-again@example.net")  # `digest subscribers add`
    assert again.status == "active" and again.token == jo.token
    assert '<form method="post">' in site.get(f"/unsubscribe/{jo.token}").text


def test_a_post_without_the_one_click_body_also_unsubscribes(
    config: Config, site: httpx.Client
) -> None:
    # Some mailbox providers send an empty body; the token is the proof, not the body.
    jo = add_subscriber(config, "plain-post@example.net")
    assert site.post(f"/unsubscribe/{jo.token}").status_code == 200
    assert status_of(config, jo.email) == "unsubscribed"


def test_forged_and_tampered_tokens_change_nothing_and_reveal_nothing(
    config: Config, site: httpx.Client
) -> None:
    jo = add_subscriber(config, "target@example.net", "Target Person")
    add_subscriber(config, "bystander@example.net")
    before = _statuses(config)
    position = len(jo.token) // 2
    swapped = "A" if jo.token[position] != "A" else "B"
    tampered = jo.token[:position] + swapped + jo.token[position + 1 :]
    forged = [
        secrets.token_urlsafe(32),  # the right shape, but nobody's
        tampered,  # one character changed
        jo.token[:-1],  # truncated
        jo.token + "x",  # extended
        jo.token.upper() if jo.token.upper() != jo.token else jo.token.lower(),
        "x" * 5000,  # absurdly long
        "%00%0d%0aSet-Cookie:%20a=b",  # control characters, encoded
        "' OR '1'='1",
    ]
    answers = set()
    for token in forged:
        for response in (
            site.get(f"/unsubscribe/{token}"),
            site.post(f"/unsubscribe/{token}", data=ONE_CLICK),
        ):
            assert response.status_code == 404, token
            assert "set-cookie" not in response.headers
            answers.add(response.text)
    assert len(answers) == 1  # one page, whatever the token
    (page,) = answers
    assert INVALID_TITLE in page
    assert "target" not in page.lower() and "•••" not in page
    assert _statuses(config) == before


def test_other_methods_change_nothing(config: Config, site: httpx.Client) -> None:
    jo = add_subscriber(config, "methods@example.net")
    for method in ("PUT", "DELETE", "PATCH"):
        assert site.request(method, f"/unsubscribe/{jo.token}").status_code == 405
    assert site.post("/unsubscribe", data=ONE_CLICK).status_code == 405
    assert site.post("/issues", data=ONE_CLICK).status_code == 405
    assert status_of(config, jo.email) == "active"


def test_the_neutral_unsubscribe_page_explains_what_to_do(site: httpx.Client) -> None:
    page = site.get("/unsubscribe")
    assert page.status_code == 200
    assert "How to unsubscribe" in page.text and "desk@lateshow.example.org" in page.text


def test_tokens_never_reach_the_log(
    config: Config, site: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    jo = add_subscriber(config, "logged@example.net")
    caplog.set_level(logging.DEBUG)
    site.get(f"/unsubscribe/{jo.token}")
    site.post(f"/unsubscribe/{jo.token}", data=ONE_CLICK)
    site.post(f"/unsubscribe/{jo.token[:-2]}zz", data=ONE_CLICK)
    site.get(f"/unsubscribe/{jo.token}/more?token={jo.token}")
    site.get("/issues")
    # The server logs a request just after its response has gone out: wait for the last line.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        r.name == "digest.web" and r.getMessage().startswith("GET /issues ") for r in caplog.records
    ):
        time.sleep(0.01)
    # Everything the server side logged (httpx and httpcore are this test's own client).
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpc"))]
    requests = [r.getMessage() for r in caplog.records if r.name == "digest.web"]
    assert "GET /unsubscribe/<redacted> 200" in " ".join(requests)
    assert any(m.startswith("POST /unsubscribe/<redacted> 404 ") for m in requests)
    assert any(m.startswith("GET /issues 200 ") for m in requests)
    assert not [m for m in lines if jo.token[:12] in m or jo.token[-12:] in m]
    assert not [m for m in lines if "logged@example.net" in m]


def test_a_broken_database_answers_503_and_claims_nothing(
    config: Config, site: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    jo = add_subscriber(config, "unlucky@example.net")
    for suffix in ("-wal", "-shm"):
        Path(str(config.state) + suffix).unlink(missing_ok=True)
    config.state.write_bytes(b"this is not a database, it is a sandwich " * 100)
    response = site.post(f"/unsubscribe/{jo.token}", data=ONE_CLICK)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "nothing has been changed" in response.text
    assert "unsubscribed" not in response.text.lower()
    assert any("state database unavailable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/unsubscribe/abcDEF123", "/unsubscribe/<redacted>"),
        ("/UNSUBSCRIBE/abcDEF123", "/UNSUBSCRIBE/<redacted>"),
        ("/unsubscribe/\nabcDEF123/more", "/unsubscribe/<redacted>"),
        ("/news/unsubscribe/abcDEF123", "/news/unsubscribe/<redacted>"),
        ("/issues/2026-W48\r\nFAKE 200", "/issues/2026-W48\\x0d\\x0aFAKE 200"),
        ("/unsubscribe", "/unsubscribe"),
    ],
)
def test_log_paths_hide_tokens_and_cannot_forge_lines(path: str, logged: str) -> None:
    assert redact_path(path) == logged
