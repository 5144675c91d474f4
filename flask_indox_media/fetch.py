"""Fetching remote URLs without being turned against the network we run in (SSRF).

A URL is fetched only when its host is allowed, and never from a private,
loopback, link-local or otherwise non-public address. The connection resolves
the host itself and vets every address before any packet is sent; the socket is
then opened to a vetted address while the ``Host`` header, the TLS server name
and the certificate check keep the host name, so a rebinding name has no second
resolution to win. IPv6 forms that carry an IPv4 address (mapped, compatible,
translated, NAT64, 6to4, Teredo) are judged by the IPv4 address they carry.
Redirects are followed by hand, each hop checked again. A ``host:port`` listed
explicitly is trusted as listed (plain http and loopback included): that is how
tests and the demo reach a fake upstream.
"""

from __future__ import annotations

import io
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.connection import allowed_gai_family, create_connection

from .exceptions import AssetTooLargeError, SourceRejectedError
from .media_types import SNIFF_BYTES, MediaType, from_content_type, sniff
from .storage.streams import ReadsInto, fill

MAX_REDIRECTS = 5
#: The most one read of a response body asks urllib3 for.
_READ_AT_MOST = 1024 * 1024

_v4, _v6 = ipaddress.IPv4Network, ipaddress.IPv6Network

#: IANA's special-purpose IPv4 ranges, refused whatever :mod:`ipaddress` says:
#: its ``is_global`` varies across Python releases and misses some
#: (``192.0.0.0/24``, ``192.88.99.0/24``, multicast).
SPECIAL_IPV4 = tuple(
    _v4(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    )
)
#: Deprecated site-local addresses, which older ``ipaddress`` deems global.
_SITE_LOCAL = _v6("fec0::/10")
_COMPATIBLE = _v6("::/96")  # deprecated; holds :: and ::1 too
_TRANSLATED = _v6("::ffff:0:0:0/96")
_NAT64 = _v6("64:ff9b::/96")
_NAT64_LOCAL = _v6("64:ff9b:1::/48")  # RFC 8215


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses ``ip`` carries, by the form it has: mapped,
    compatible, translated or NAT64 (the last 32 bits), local-use NAT64
    (RFC 6052's layout for a /48 prefix), 6to4 (bits 16-47), Teredo (the
    server and the client). Empty for any other IPv6 address."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip in _COMPATIBLE or ip in _TRANSLATED or ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _NAT64_LOCAL:
        packed = ip.packed  # bits 64-71 are the reserved "u" octet
        return (ipaddress.IPv4Address(packed[6:8] + packed[9:11]),)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    return ()


def public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address; an IPv6
    address that carries IPv4 ones is public only when they all are."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_ipv4(ip)
    carried = embedded_ipv4(ip)
    if carried:
        return all(_public_ipv4(v4) for v4 in carried)
    return ip.is_global and not ip.is_multicast and ip not in _SITE_LOCAL


def _public_ipv4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not any(ip in net for net in SPECIAL_IPV4)


def vetted_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, when every one of them is public.

    A name with any non-public address is refused outright rather than tried
    on its public ones: no content host needs such a mix, and it is the shape
    of a rebinding attack.

    :raises SourceRejectedError: an address is not public.
    :raises socket.gaierror: the name does not resolve.
    """
    # socket.getaddrinfo looked up at call time, so tests can stand in for DNS.
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not public_address(address):
            raise SourceRejectedError(
                f"refused to connect to non-public address {address}"
            )
    return addresses


def _connect_vetted(conn: HTTPConnection) -> socket.socket:
    """A socket to a vetted address of ``conn``'s host (urllib3's
    ``_new_conn``, with the resolution done and checked here)."""
    port = conn.port or conn.default_port
    try:
        addresses = vetted_addresses(conn._dns_host.strip("[]"), port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except OSError as exc:
            error = exc
    if isinstance(error, TimeoutError):
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out ({conn.timeout})"
        ) from error
    raise NewConnectionError(
        conn, f"Failed to establish a new connection: {error}"
    ) from error


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_vetted(self)


class _PublicHTTPSConnection(HTTPSConnection):
    # The TLS layer still takes its server name and the name the certificate
    # must match from self.host: only the socket goes to the vetted address.
    def _new_conn(self) -> socket.socket:
        return _connect_vetted(self)


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
            # A non-public address raises SourceRejectedError before connecting.
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


class SniffedStream(io.RawIOBase):
    """A download's (or an upload's) body as a file object: the format is
    sniffed from its first bytes, and reading past ``limit`` bytes raises
    :class:`AssetTooLargeError`.

    Read it with :meth:`readinto`, into the caller's buffer: the sniffed bytes
    are handed over first (their only copy), then ``source`` reads straight into
    the buffer, with never more than one byte past the limit asked of it.

    :param source: a raw stream with ``readinto`` (``urllib3``'s response, a
        file, a streamed multipart part).
    :param header_type: the ``Content-Type`` a server declared, used only when
        the bytes are not recognised.
    """

    def __init__(
        self, source: ReadsInto, *, limit: int, header_type: str | None = None
    ) -> None:
        super().__init__()
        self._source = source
        self.limit = limit
        self.count = 0
        peek = bytearray(SNIFF_BYTES)
        with memoryview(peek) as view:
            size = fill(source, view)
        #: The first bytes, as sniffed (at most :data:`SNIFF_BYTES`).
        self.head = bytes(peek[:size])
        self._pending = memoryview(self.head)
        self.media_type: MediaType | None = sniff(self.head) or (
            from_content_type(header_type) if self.head else None
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as whole, whole.cast("B") as view:
            if self._pending:
                count = min(len(view), len(self._pending))
                view[:count] = self._pending[:count]
                self._pending = self._pending[count:]
            else:
                # One byte past the limit is enough to know it is exceeded.
                room = max(0, self.limit - self.count) + 1
                count = self._source.readinto(view[:room]) or 0
        self.count += count
        if self.count > self.limit:
            raise AssetTooLargeError(f"larger than {self.limit} bytes")
        return count


class _ResponseBody:
    """``readinto`` on urllib3's response, decoded as ``iter_content`` would
    decode it, with urllib3's errors raised as requests' (as ``iter_content``
    raises them)."""

    def __init__(self, response: requests.Response) -> None:
        self._raw = response.raw
        encoding = response.headers.get("Content-Encoding", "identity")
        # Undecoded reads skip urllib3's decoded-bytes queue (a copy per read).
        self._raw.decode_content = encoding.strip().lower() != "identity"

    def readinto(self, view: memoryview) -> int:
        try:
            # urllib3 reads into a bytes object of the size asked and copies it
            # over: asked for a whole part, that would be a second part-sized
            # buffer for a moment.
            return int(self._raw.readinto(view[:_READ_AT_MOST]))
        except ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc


def response_stream(response: requests.Response, limit: int) -> SniffedStream:
    """The body of ``response`` as a :class:`SniffedStream`, refused early when
    its declared length is over ``limit``."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise AssetTooLargeError(f"{declared} bytes is more than the limit of {limit}")
    return SniffedStream(
        _ResponseBody(response),
        limit=limit,
        header_type=response.headers.get("Content-Type"),
    )
