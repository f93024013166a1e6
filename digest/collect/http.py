"""Fetching feeds and API pages safely: timeouts, a size cap, checked redirects, conditional GET.

Everything a network source downloads goes through ``fetch``:

- only ``http`` and ``https`` URLs, on the first request and on every redirect hop; redirects
  are followed here (the client never follows them itself) up to ``http.max_redirects``;
- every connection is checked *at connect time*: the transport resolves the host itself and
  refuses loopback, private, link-local, reserved, multicast and unspecified addresses (IPv4,
  IPv6 and IPv4 inside IPv6) unless the source says ``allow_private: true``. Because the check
  runs on the very address the socket connects to, a DNS answer that changes between a check
  and the connect (DNS rebinding) can't slip past it;
- connect and read timeouts from ``http.*_timeout`` and a total deadline for the whole fetch,
  checked while the body streams, so a server trickling an endless answer is cut off;
- the body is streamed and refused beyond ``http.max_bytes`` (counted after decompression);
- ETag / Last-Modified are remembered in the ``http_cache`` table; the next fetch sends
  ``If-None-Match`` / ``If-Modified-Since`` and a ``304`` returns the remembered body.

Known limits: name resolution uses the system resolver, which has its own timeouts (not
``http.connect_timeout``); environment proxies are ignored on purpose (a proxy would connect
on our behalf, past the address check); a kept-alive connection is checked when it was opened,
so two sources naming the same private host with different ``allow_private`` settings share
what the first one opened; a compressed body is counted after decompression, one network read
(at most 64 KiB) at a time, so a zip bomb costs at most one read's expansion before the cap.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from digest import config as cfg
from digest.errors import AddressRefused, FetchError
from digest.state.db import Connection
from digest.state.http_cache import cache_lookup, cache_store

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What the fetch running in this thread may reach besides public addresses: everything
#: (``allow_private``), or only the networks it trusts by name.
_allow_private: ContextVar[bool] = ContextVar("digest_allow_private", default=False)
_trusted: ContextVar[tuple[Network, ...]] = ContextVar("digest_trusted", default=())


def non_public_reason(address: str) -> str | None:
    """Why ``address`` is not a public internet address, or ``None`` when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 is judged as the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            inner = non_public_reason(str(embedded))
            if inner:
                return f"{inner}, inside IPv6"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    if not ip.is_global:
        return "not a public address"
    return None


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves each host itself and refuses non-public addresses before connecting."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise httpcore.ConnectError(f"can't resolve host {host!r} ({e.strerror})") from e
        if not _allow_private.get():
            trusted = _trusted.get()
            for info in infos:
                address = str(info[4][0])
                why = non_public_reason(address)
                if why and not any(ipaddress.ip_address(address) in net for net in trusted):
                    raise AddressRefused(host, address, why)
        last: Exception | None = None
        for info in infos:
            # Connect to the numeric address just checked, never to the name again.
            try:
                return super().connect_tcp(
                    str(info[4][0]), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        raise last or httpcore.ConnectError(f"no address found for {host!r}")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Certificate verification on, with the CA bundle loaded once per process."""
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, with the address-checking backend under its connection pool."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        context = _ssl_context()
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )


def make_client(http: cfg.Http) -> httpx.Client:
    """The one HTTP client all network sources share (redirects are followed by ``fetch``)."""
    timeout = httpx.Timeout(
        connect=http.connect_timeout,
        read=http.read_timeout,
        write=http.read_timeout,
        pool=http.connect_timeout,
    )
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
    return httpx.Client(
        transport=_GuardedTransport(limits=limits),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": http.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch produced; ``from_cache`` when the server said 304 Not Modified."""

    status: int
    body: bytes
    headers: httpx.Headers
    url: str
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()


def fetch_with(
    client: httpx.Client,
    url: str,
    http: cfg.Http,
    *,
    allow_private: bool,
    cache: Connection | None,
    accept: str = "*/*",
) -> FetchResult:
    """``fetch`` with the limits from the ``http:`` section of the config."""
    return fetch(
        client,
        url,
        allow_private=allow_private,
        max_bytes=http.max_bytes,
        max_redirects=http.max_redirects,
        total_timeout=http.total_timeout,
        cache=cache,
        accept=accept,
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    max_redirects: int,
    total_timeout: float = 30.0,
    cache: Connection | None = None,
    accept: str = "*/*",
    trusted: tuple[Network, ...] = (),
) -> FetchResult:
    """GET ``url`` within every limit above; any failure is a ``FetchError`` naming the fix.

    ``trusted`` names networks reachable even without ``allow_private`` (one loopback
    address in tests, so a redirect from it to another private address can be refused).
    """
    deadline = time.monotonic() + total_timeout
    cached = cache_lookup(cache, url)
    headers = {"Accept": accept}
    if cached is not None:
        etag, last_modified, _ = cached
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
    token = _allow_private.set(allow_private)
    trusted_token = _trusted.set(trusted)
    try:
        current = url
        for _hop in range(max_redirects + 1):
            _check_scheme(url, current)
            status, resp_headers, body = _get_once(
                client, current, headers, max_bytes=max_bytes, deadline=deadline, origin=url
            )
            if status in _REDIRECTS and "location" in resp_headers:
                try:
                    current = urljoin(current, resp_headers["location"].strip())
                except ValueError as e:
                    raise FetchError(url, f"the server redirected to a malformed URL ({e})") from e
                continue
            if status == 304 and cached is not None:
                return FetchResult(status, cached[2], resp_headers, current, from_cache=True)
            if not 200 <= status < 300:
                raise FetchError(url, _status_message(status, current))
            cache_store(cache, url, resp_headers, body)
            return FetchResult(status, body, resp_headers, current)
        raise FetchError(
            url,
            f"more than {max_redirects} redirects (last to {current}); raise http.max_redirects",
        )
    finally:
        _allow_private.reset(token)
        _trusted.reset(trusted_token)


def _check_scheme(origin: str, url: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in _SCHEMES:
        where = "" if url == origin else f" (redirected to {url[:200]})"
        raise FetchError(origin, f"only http:// and https:// URLs are fetched{where}; refused")


def _get_once(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    *,
    max_bytes: int,
    deadline: float,
    origin: str,
) -> tuple[int, httpx.Headers, bytes]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(origin, _too_slow())
    base = client.timeout
    # No single wait may outlast the total deadline.
    timeout = httpx.Timeout(
        connect=min(base.connect or remaining, remaining),
        read=min(base.read or remaining, remaining),
        write=min(base.write or remaining, remaining),
        pool=min(base.pool or remaining, remaining),
    )
    try:
        request = client.build_request("GET", url, headers=headers, timeout=timeout)
        response = client.send(request, stream=True)
        try:
            if response.status_code in _REDIRECTS or response.status_code == 304:
                return response.status_code, response.headers, b""
            body = _read_body(response, max_bytes=max_bytes, deadline=deadline, origin=origin)
            return response.status_code, response.headers, body
        finally:
            response.close()
    except AddressRefused as e:
        raise FetchError(origin, _refused_message(e, url, origin)) from e
    except httpx.ConnectTimeout as e:
        raise FetchError(
            origin,
            f"could not connect to {_host(url)} in time; check the url or raise "
            "http.connect_timeout",
        ) from e
    except httpx.ReadTimeout as e:
        raise FetchError(
            origin, f"{_host(url)} stopped answering; raise http.read_timeout if it is just slow"
        ) from e
    except httpx.TimeoutException as e:
        raise FetchError(origin, _too_slow()) from e
    except httpx.ConnectError as e:
        raise FetchError(origin, f"could not connect to {_host(url)} ({e}); check the url") from e
    except httpx.HTTPError as e:
        raise FetchError(origin, f"the download failed ({type(e).__name__}: {e})") from e
    except (httpx.InvalidURL, ValueError) as e:  # a malformed redirect target, or a bad host
        raise FetchError(origin, f"can't fetch {url[:200]!r} ({e}); check the url") from e


def _read_body(response: httpx.Response, *, max_bytes: int, deadline: float, origin: str) -> bytes:
    """The body, refused past ``max_bytes`` (declared or counted) or past the deadline."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(origin, _too_large(max_bytes))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(origin, _too_large(max_bytes))
        if time.monotonic() > deadline:
            raise FetchError(origin, _too_slow())
        chunks.append(chunk)
    return b"".join(chunks)


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _too_large(max_bytes: int) -> str:
    return f"response larger than {max_bytes} bytes; raise http.max_bytes if the feed is real"


def _too_slow() -> str:
    return "the download took longer than the total time allowed; raise http.total_timeout"


def _refused_message(e: AddressRefused, url: str, origin: str) -> str:
    hop = "" if url == origin else f" (redirected to {url[:200]})"
    return (
        f"refused to connect to {e.address}{hop}: {e.host} resolves to a {e.why}. Set "
        "allow_private: true on this source only if it is meant to reach an intranet address"
    )


def _status_message(status: int, url: str) -> str:
    reason = httpx.codes.get_reason_phrase(status) or "unknown status"
    hint = {
        401: "the server wants a login; digest can't fetch protected feeds",
        403: "the server refused access",
        404: "nothing at this address; check the url",
        410: "the feed was removed; check the url",
        429: "the server is rate-limiting us; it will be tried again next run",
    }.get(status, "the server answered with an error; it will be tried again next run")
    shown = url[:200]
    return f"HTTP {status} {reason} from {shown}: {hint}"
