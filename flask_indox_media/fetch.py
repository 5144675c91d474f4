"""Fetching remote URLs without being turned against the network we run in (SSRF).

A URL is fetched only when its host is allowed, and never from a private,
loopback, link-local or otherwise non-public address: the address is checked on
the socket actually connected, after DNS, so a rebinding name does not get
through. Redirects are followed by hand, each hop checked again. A ``host:port``
listed explicitly is trusted as listed (plain http and loopback included): that
is how tests and the demo reach a fake upstream.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .exceptions import AssetTooLargeError, SourceRejectedError
from .media_types import SNIFF_BYTES, MediaType, from_content_type, sniff

MAX_REDIRECTS = 5
_CHUNK = 256 * 1024


def public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check_socket(sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    if not public_address(peer):
        sock.close()
        raise SourceRejectedError(f"refused to connect to non-public address {peer}")


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_socket(sock)
        return sock


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_socket(sock)  # before the TLS handshake sends anything
        return sock


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def _session(public_only: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment
    if public_only:
        adapter = _PublicOnlyAdapter(pool_maxsize=10)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class HostPolicy:
    """Which URLs may be fetched.

    :param hosts: ``example.com``, ``*.example.com`` (any subdomain) or
        ``host:port`` (trusted as listed: http and loopback allowed).
    :param any_public_host: also allow any other https host on a public address
        (for forwarding callbacks to the caller's own URL).
    """

    hosts: tuple[str, ...]
    any_public_host: bool = False

    def check(self, url: str) -> bool:
        """Check ``url``; returns whether it is trusted as listed (``host:port``).

        :raises SourceRejectedError: the URL may not be fetched.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            raise SourceRejectedError("invalid port") from None
        if (
            scheme not in ("http", "https")
            or not host
            or parts.username
            or parts.password
        ):
            raise SourceRejectedError(f"refused URL scheme or authority: {scheme}://")
        if port and f"{host}:{port}" in self.hosts:
            return True
        if scheme != "https":
            raise SourceRejectedError("only https URLs are fetched")
        if not self.any_public_host and not any(
            _host_matches(host, h) for h in self.hosts
        ):
            raise SourceRejectedError(f"host {host} is not in INDOX_MEDIA_SOURCE_HOSTS")
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        if not public_address(str(literal)):
            raise SourceRejectedError(f"refused non-public address {host}")
        return False


def _host_matches(host: str, pattern: str) -> bool:
    if ":" in pattern:
        return False  # host:port entries match only exactly, above
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


class Fetcher:
    """Streams URLs allowed by a :class:`HostPolicy`."""

    def __init__(self, policy: HostPolicy, *, timeout: tuple[float, float]) -> None:
        self.policy = policy
        self.timeout = timeout
        self._public = _session(public_only=True)
        self._listed = _session(public_only=False)

    def open(
        self, url: str, *, method: str = "GET", **kwargs: Any
    ) -> requests.Response:
        """The response to ``url`` after checked redirects (body not read yet).

        :raises SourceRejectedError: a hop is not allowed.
        :raises requests.RequestException: the transfer failed.
        """
        for _ in range(MAX_REDIRECTS + 1):
            listed = self.policy.check(url)
            session = self._listed if listed else self._public
            # A non-public peer raises SourceRejectedError from the connection.
            response = session.request(
                method,
                url,
                stream=True,
                allow_redirects=False,
                timeout=self.timeout,
                **kwargs,
            )
            if response.is_redirect and method == "GET":
                location = response.headers.get("Location", "")
                response.close()
                url = urljoin(url, location)
                continue
            return response
        raise SourceRejectedError("too many redirects")


class SniffedStream:
    """A download's body as a file object: the format is sniffed from its first
    bytes, and reading past ``limit`` bytes raises :class:`AssetTooLargeError`."""

    def __init__(
        self, chunks: Iterable[bytes], *, limit: int, header_type: str | None = None
    ) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""
        self.limit = limit
        self.count = 0
        while len(self._buffer) < SNIFF_BYTES:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        self.media_type: MediaType | None = sniff(self._buffer[:SNIFF_BYTES]) or (
            from_content_type(header_type) if self._buffer else None
        )

    def read(self, size: int = -1) -> bytes:
        parts, have = [self._buffer], len(self._buffer)
        while size < 0 or have < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            if self.count + have > self.limit:
                raise AssetTooLargeError(f"larger than {self.limit} bytes")
        buffer = b"".join(parts)  # one copy, however many chunks
        if size < 0:
            data, self._buffer = buffer, b""
        else:
            data, self._buffer = buffer[:size], buffer[size:]
        self.count += len(data)
        if self.count > self.limit:
            raise AssetTooLargeError(f"larger than {self.limit} bytes")
        return data


def response_stream(response: requests.Response, limit: int) -> SniffedStream:
    """The body of ``response`` as a :class:`SniffedStream`, refused early when
    its declared length is over ``limit``."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise AssetTooLargeError(f"{declared} bytes is more than the limit of {limit}")
    return SniffedStream(
        response.iter_content(_CHUNK),
        limit=limit,
        header_type=response.headers.get("Content-Type"),
    )
