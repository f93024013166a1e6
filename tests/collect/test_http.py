"""The safe fetcher against a real loopback server: limits, address checks, redirects, caching."""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.http import ScriptedServer

from digest.collect.http import fetch, make_client, non_public_reason
from digest.config import Http
from digest.errors import FetchError
from digest.state import db

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(Http(connect_timeout=1, read_timeout=0.5, total_timeout=3)) as c:
        yield c


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(tmp_path / "state.sqlite3")
    yield connection
    connection.close()


def get(client: httpx.Client, url: str, **options: object) -> object:
    kwargs: dict[str, object] = {
        "allow_private": True,
        "max_bytes": 100_000,
        "max_redirects": 3,
        "total_timeout": 3.0,
    }
    kwargs.update(options)
    return fetch(client, url, **kwargs)  # type: ignore[arg-type]


def test_plain_fetch_returns_body_and_headers(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/a", body=b"hello", headers={"Content-Type": "text/plain"})
    result = get(client, server.url("/a"))
    assert result.status == 200  # type: ignore[attr-defined]
    assert result.body == b"hello"  # type: ignore[attr-defined]
    assert result.from_cache is False  # type: ignore[attr-defined]


def test_loopback_is_refused_by_default(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/feed", body=b"<rss/>")
    with pytest.raises(FetchError) as err:
        get(client, server.url("/feed"), allow_private=False)
    message = str(err.value)
    assert "127.0.0.1" in message
    assert "loopback" in message
    assert "allow_private: true" in message
    assert server.requests == []  # refused before any connection was made


@pytest.mark.parametrize(
    ("target", "address", "kind"),
    [
        ("http://10.1.2.3/feed", "10.1.2.3", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("http://127.0.0.2:9/feed", "127.0.0.2", "loopback"),
        ("http://[::1]:9/feed", "::1", "loopback"),
        ("http://[::ffff:192.168.0.7]/feed", "192.168.0.7", "private"),
        ("http://0.0.0.0:9/", "0.0.0.0", "unspecified"),
        ("http://224.0.0.1/", "224.0.0.1", "multicast"),
    ],
)
def test_redirect_to_a_private_address_is_refused(
    server: ScriptedServer, client: httpx.Client, target: str, address: str, kind: str
) -> None:
    server.route("/feed", status=302, headers={"Location": target})
    with pytest.raises(FetchError) as err:
        # The server's own address is trusted; the hop it redirects to must be checked anew.
        get(client, server.url("/feed"), allow_private=False, trusted=LOOPBACK_ONLY)
    message = str(err.value)
    assert f"redirected to {target}" in message
    assert address in message
    assert kind in message
    assert len(server.requests) == 1


def test_redirect_to_a_file_url_is_refused(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/feed", status=301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match=r"only http:// and https://.*file:///etc/passwd"):
        get(client, server.url("/feed"))


@pytest.mark.parametrize("location", ["http://[::1", "http://exa mple.org/", "http://:99999/"])
def test_malformed_redirect_target_is_a_clear_error(
    server: ScriptedServer, client: httpx.Client, location: str
) -> None:
    server.route("/feed", status=302, headers={"Location": location})
    with pytest.raises(FetchError):
        get(client, server.url("/feed"))


def test_non_http_url_is_refused_before_any_request(client: httpx.Client) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        get(client, "ftp://example.org/feed.xml")


def test_redirects_are_followed_up_to_the_limit(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.route("/one", status=301, headers={"Location": "/two"})
    server.route("/two", status=307, headers={"Location": server.url("/three")})
    server.route("/three", body=b"arrived")
    result = get(client, server.url("/one"))
    assert result.body == b"arrived"  # type: ignore[attr-defined]
    assert result.url == server.url("/three")  # type: ignore[attr-defined]
    with pytest.raises(FetchError, match="more than 1 redirects"):
        get(client, server.url("/one"), max_redirects=1)


def test_redirect_loop_ends_with_a_clear_error(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.route("/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match=r"more than 3 redirects.*http.max_redirects"):
        get(client, server.url("/loop"))
    assert len(server.requests_to("/loop")) == 4


def test_error_status_is_named(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/gone", status=410, body=b"gone")
    server.route("/broken", status=500, body=b"oops")
    with pytest.raises(FetchError, match="HTTP 410 Gone"):
        get(client, server.url("/gone"))
    with pytest.raises(FetchError, match="HTTP 500 Internal Server Error"):
        get(client, server.url("/broken"))
    with pytest.raises(FetchError, match="HTTP 404"):
        get(client, server.url("/nothing-here"))


def test_server_that_never_answers_times_out(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/hang", hang=True)
    with pytest.raises(FetchError, match=r"stopped answering.*http.read_timeout"):
        get(client, server.url("/hang"))


def test_endless_response_is_cut_at_the_size_cap(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.route("/endless", trickle=b"<item>spam</item>" * 100, trickle_interval=0.001)
    with pytest.raises(FetchError, match=r"larger than 4096 bytes; raise http.max_bytes"):
        get(client, server.url("/endless"), max_bytes=4096)


def test_declared_oversize_body_is_refused(server: ScriptedServer, client: httpx.Client) -> None:
    server.route("/big", body=b"x" * 5000)
    with pytest.raises(FetchError, match="larger than 4096 bytes"):
        get(client, server.url("/big"), max_bytes=4096)


def test_trickling_response_is_cut_at_the_total_deadline(
    server: ScriptedServer, client: httpx.Client
) -> None:
    # Each chunk comes well within the read timeout, so only the total deadline can stop it.
    server.route("/trickle", trickle=b"<", trickle_interval=0.05)
    with pytest.raises(FetchError, match=r"longer than the total time.*http.total_timeout"):
        get(client, server.url("/trickle"), total_timeout=0.6, max_bytes=10_000_000)


def test_conditional_get_uses_the_cache_on_304(
    server: ScriptedServer, client: httpx.Client, conn: sqlite3.Connection
) -> None:
    stamp = "Mon, 23 Nov 2026 09:30:00 GMT"
    server.route("/feed", body=b"<rss>first</rss>", etag='"v1"', last_modified=stamp)
    first = get(client, server.url("/feed"), cache=conn)
    assert first.from_cache is False  # type: ignore[attr-defined]
    assert "If-None-Match" not in server.requests[0].headers

    second = get(client, server.url("/feed"), cache=conn)
    sent = server.requests[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == stamp
    assert second.status == 304  # type: ignore[attr-defined]
    assert second.from_cache is True  # type: ignore[attr-defined]
    assert second.body == b"<rss>first</rss>"  # type: ignore[attr-defined]

    # A changed feed (new ETag) is fetched in full and remembered in place of the old one.
    server.route("/feed", body=b"<rss>second</rss>", etag='"v2"')
    third = get(client, server.url("/feed"), cache=conn)
    assert third.body == b"<rss>second</rss>"  # type: ignore[attr-defined]
    row = conn.execute("SELECT etag, body FROM http_cache WHERE url = ?", (server.url("/feed"),))
    assert tuple(row.fetchone()) == ('"v2"', b"<rss>second</rss>")


def test_without_a_cache_no_conditional_headers_are_sent(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.route("/feed", body=b"<rss/>", etag='"v1"')
    get(client, server.url("/feed"))
    get(client, server.url("/feed"))
    assert all("If-None-Match" not in r.headers for r in server.requests)


def test_user_agent_is_sent(server: ScriptedServer) -> None:
    server.route("/ua", body=b"ok")
    with make_client(Http(user_agent="digest-test/1")) as c:
        get(c, server.url("/ua"))
    assert server.requests[0].headers["User-Agent"] == "digest-test/1"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.1.1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("ff02::1", False),
        ("240.0.0.1", False),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert (non_public_reason(address) is None) is public
