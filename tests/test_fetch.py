"""SSRF protection: what the mirror and the gateway may fetch."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_indox_media.exceptions import AssetTooLargeError, SourceRejectedError
from flask_indox_media.fetch import (
    Fetcher,
    HostPolicy,
    SniffedStream,
    embedded_ipv4,
    public_address,
    response_stream,
)
from flask_indox_media.testing import serve_wsgi


class Canary:
    """A server that counts the HTTP requests it gets."""

    def __init__(self) -> None:
        self.hits = 0

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        self.hits += 1
        path = environ["PATH_INFO"]
        if path.startswith("/redirect/"):
            start_response(
                "302 Found",
                [("Location", path.removeprefix("/redirect/").replace("|", "/"))],
            )
            return [b""]
        if path == "/chunked":
            start_response("200 OK", [("Content-Type", "audio/wav")])
            return [b"RIFF\0\0\0\0WAVE" + b"\0" * 5000] * 10
        body = b"RIFF\0\0\0\0WAVE" + b"\0" * 100
        start_response(
            "200 OK",
            [("Content-Type", "audio/wav"), ("Content-Length", str(len(body)))],
        )
        return [body]


@pytest.fixture
def canary() -> Iterator[tuple[Canary, str]]:
    app = Canary()
    with serve_wsgi(app) as url:
        yield app, url


def fetcher(*hosts: str) -> Fetcher:
    return Fetcher(HostPolicy(hosts), timeout=(2, 2))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://app.resemble.ai/x.wav",
        "http://app.resemble.ai/x.wav",  # plain http to a listed host name
        "https://evil.example/x.wav",
        "https://app.resemble.ai.evil.example/x.wav",
        "https://user:pw@app.resemble.ai/x.wav",
        "https://127.0.0.1/x.wav",
        "https://10.0.0.8/x.wav",
        "https://[::1]/x.wav",
        "https://169.254.169.254/latest/meta-data",
        "gopher://app.resemble.ai/",
        "https://app.resemble.ai:99999/x.wav",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(SourceRejectedError):
        HostPolicy(("app.resemble.ai", "*.resemble.ai")).check(url)


def test_listed_hosts_and_wildcards() -> None:
    policy = HostPolicy(("app.resemble.ai", "*.cdn.example", "127.0.0.1:8080"))
    assert policy.check("https://app.resemble.ai/x.wav") is False
    assert policy.check("https://a.b.cdn.example/x.wav") is False
    assert policy.check("http://127.0.0.1:8080/x.wav") is True  # trusted as listed
    with pytest.raises(SourceRejectedError):
        policy.check("http://127.0.0.1:8081/x.wav")
    with pytest.raises(SourceRejectedError):
        policy.check("https://cdn.example/x.wav")  # *.x is subdomains only


def test_loopback_not_listed_is_never_contacted(canary: tuple[Canary, str]) -> None:
    app, url = canary
    port = url.rsplit(":", 1)[1]
    with pytest.raises(SourceRejectedError):
        fetcher("127.0.0.1").open(f"https://127.0.0.1:{port}/x.wav")
    assert app.hits == 0


def test_a_listed_name_resolving_to_loopback_is_refused_on_connect(
    canary: tuple[Canary, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is allowed, the address it resolves to is not."""
    app, url = canary
    port = int(url.rsplit(":", 1)[1])
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        return real(
            "127.0.0.1" if host == "media.resemble.ai" else host, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(SourceRejectedError, match="non-public"):
        fetcher("*.resemble.ai").open(f"https://media.resemble.ai:{port}/x.wav")
    assert app.hits == 0


def test_redirects_are_checked_hop_by_hop(canary: tuple[Canary, str]) -> None:
    app, url = canary
    with serve_wsgi(Canary()) as other:
        listed = "127.0.0.1:" + url.rsplit(":", 1)[1]
        target = other + "/x.wav"
        with pytest.raises(SourceRejectedError):
            fetcher(listed).open(f"{url}/redirect/{target.replace('/', '|')}")
    assert app.hits == 1  # the listed host answered the redirect; the target never


def test_a_redirect_within_the_listed_hosts_is_followed(
    canary: tuple[Canary, str],
) -> None:
    app, url = canary
    listed = "127.0.0.1:" + url.rsplit(":", 1)[1]
    with fetcher(listed).open(f"{url}/redirect/|x.wav") as response:
        assert response.status_code == 200 and response.content.startswith(b"RIFF")
    assert app.hits == 2


@pytest.mark.parametrize("path", ["/x.wav", "/chunked"])
def test_size_limit_while_streaming(canary: tuple[Canary, str], path: str) -> None:
    _, url = canary
    listed = "127.0.0.1:" + url.rsplit(":", 1)[1]
    with fetcher(listed).open(url + path) as response:
        with pytest.raises(AssetTooLargeError):
            stream = response_stream(response, limit=50)
            while stream.read(16):
                pass


def test_stream_sniffs_and_counts(canary: tuple[Canary, str]) -> None:
    _, url = canary
    listed = "127.0.0.1:" + url.rsplit(":", 1)[1]
    with fetcher(listed).open(url + "/chunked") as response:
        stream = response_stream(response, limit=10**6)
        assert stream.media_type is not None and stream.media_type.extension == "wav"
        data = stream.read()
    assert len(data) == stream.count == 10 * 5012


def test_size_limit_within_the_first_chunk() -> None:
    stream = SniffedStream(io.BytesIO(b"RIFF\0\0\0\0WAVE" + bytes(200)), limit=100)
    assert stream.media_type is not None
    with pytest.raises(AssetTooLargeError):
        while stream.read(16):
            pass


# The address classifier: IPv4 carried in IPv6 ------------------------------------

V4_SPECIAL = [
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
]


def _low32(prefix: str) -> Callable[[IPv4Address], str]:
    return lambda v4: str(IPv6Address(int(IPv6Address(prefix)) | int(v4)))


def _nat64_local(v4: IPv4Address) -> str:
    """RFC 6052, /48 prefix: 16 bits of the IPv4 address, the u octet, 16 more."""
    raw = v4.packed
    return str(
        IPv6Address(b"\x00\x64\xff\x9b\x00\x01" + raw[:2] + b"\0" + raw[2:] + bytes(5))
    )


def _sixtofour(v4: IPv4Address) -> str:
    return str(IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1))


def _teredo(server: IPv4Address, client: IPv4Address) -> str:
    value = (0x20010000 << 96) | (int(server) << 64) | (0x8000 << 48) | (0x1234 << 32)
    return str(IPv6Address(value | (int(client) ^ 0xFFFFFFFF)))


#: Every IPv6 form that carries one IPv4 address.
WRAPPINGS: dict[str, Callable[[IPv4Address], str]] = {
    "mapped": _low32("::ffff:0:0"),
    "compatible": _low32("::"),
    "translated": _low32("::ffff:0:0:0"),
    "nat64": _low32("64:ff9b::"),
    "nat64-local": _nat64_local,
    "6to4": _sixtofour,
    "teredo-server": lambda v4: _teredo(v4, IPv4Address("8.8.8.8")),
    "teredo-client": lambda v4: _teredo(IPv4Address("8.8.4.4"), v4),
}


def in_network(cidr: str) -> st.SearchStrategy[IPv4Address]:
    net = IPv4Network(cidr)
    return st.integers(int(net.network_address), int(net.broadcast_address)).map(
        IPv4Address
    )


def test_the_wrappings_carry_what_they_should() -> None:
    v4 = IPv4Address("192.0.2.33")
    for name, wrap in WRAPPINGS.items():
        carried = embedded_ipv4(IPv6Address(wrap(v4)))
        assert v4 in carried, name


@pytest.mark.parametrize("cidr", V4_SPECIAL)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_special_ipv4_is_never_public_however_wrapped(
    cidr: str, data: st.DataObject
) -> None:
    v4 = data.draw(in_network(cidr))
    assert not public_address(str(v4))
    for name, wrap in WRAPPINGS.items():
        assert not public_address(wrap(v4)), (name, wrap(v4))


@settings(max_examples=500, deadline=None)
@given(v4=st.integers(0, 2**32 - 1).map(IPv4Address))
def test_a_wrapped_ipv4_is_judged_as_the_ipv4(v4: IPv4Address) -> None:
    expected = public_address(str(v4))
    for name, wrap in WRAPPINGS.items():
        assert public_address(wrap(v4)) is expected, (name, wrap(v4))


@pytest.mark.parametrize("v4", ["8.8.8.8", "1.1.1.1", "9.9.9.9"])
@pytest.mark.parametrize("wrap", ["nat64", "nat64-local"])
def test_public_ipv4_behind_nat64_is_public(v4: str, wrap: str) -> None:
    assert public_address(WRAPPINGS[wrap](IPv4Address(v4)))


@pytest.mark.parametrize(
    "address",
    ["::", "::1", "fe80::1", "fc00::1", "fec0::1", "ff02::1", "2001:db8::1", "100::1"],
)
def test_non_public_ipv6(address: str) -> None:
    assert not public_address(address)


def test_public_ipv6() -> None:
    assert public_address("2606:4700:4700::1111")


# Vetting before connecting ----------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A bare loopback socket: whether anything connected shows as an accept."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server, server.getsockname()[1]
    finally:
        server.close()


def accepts(server: socket.socket) -> int:
    server.settimeout(0.2)
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            return count
        conn.close()
        count += 1


def resolving(
    monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]
) -> list[str]:
    """Stand in for DNS: each name in ``names`` resolves to its addresses;
    returns the names asked for."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host in names:
            return [
                info
                for address in names[host]
                for info in real(address, port, *args, **kwargs)
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["8.8.8.8", "127.0.0.1"], ["::ffff:127.0.0.1", "127.0.0.1"]],
)
def test_a_name_resolving_inward_gets_no_handshake(
    listener: tuple[socket.socket, int],
    monkeypatch: pytest.MonkeyPatch,
    addresses: list[str],
) -> None:
    server, port = listener
    resolving(monkeypatch, {"media.resemble.ai": addresses})
    with pytest.raises(SourceRejectedError, match="non-public"):
        fetcher("*.resemble.ai").open(f"https://media.resemble.ai:{port}/x.wav")
    assert accepts(server) == 0


def test_callback_forwarding_gets_no_handshake_either(
    listener: tuple[socket.socket, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any public host allowed (callbacks): the address is still vetted."""
    server, port = listener
    resolving(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    fetch = Fetcher(HostPolicy((), any_public_host=True), timeout=(2, 2))
    with pytest.raises(SourceRejectedError, match="non-public"):
        fetch.open(f"https://hooks.example.com:{port}/cb", method="POST", data=b"{}")
    assert accepts(server) == 0


def test_the_vetted_address_is_the_one_connected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """One resolution: the socket goes to the address vetted, while TLS and
    ``Host`` keep the name (the certificate is checked against it)."""
    import ssl

    from werkzeug.serving import make_server

    import flask_indox_media.fetch as fetch_module

    cert, key = _self_signed(tmp_path, "media.resemble.ai")
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(environ["HTTP_HOST"])
        start_response("200 OK", [("Content-Type", "audio/wav")])
        return [b"RIFF\0\0\0\0WAVE"]

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server("127.0.0.1", 0, app, ssl_context=context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    try:
        # Loopback stands in for a public address here; DNS answers once.
        monkeypatch.setattr(fetch_module, "public_address", lambda a: True)
        asked = resolving(monkeypatch, {"media.resemble.ai": ["127.0.0.1"]})
        fetch = fetcher("*.resemble.ai")
        url = f"https://media.resemble.ai:{port}/x.wav"
        with fetch.open(url, verify=cert) as response:
            assert response.content.startswith(b"RIFF")
        assert seen == [f"media.resemble.ai:{port}"]
        assert asked.count("media.resemble.ai") == 1
        resolving(monkeypatch, {"other.resemble.ai": ["127.0.0.1"]})
        with pytest.raises(requests.exceptions.SSLError):
            fetch.open(f"https://other.resemble.ai:{port}/x.wav", verify=cert)
    finally:
        server.shutdown()


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class OddReads(io.RawIOBase):
    """Reads that return the next of ``sizes`` bytes (cycling), whatever was
    asked, as a socket's do."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._turn = memoryview(data), sizes, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        count = min(len(buffer), size, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=6),
    reads=st.lists(st.integers(1, 900), min_size=1, max_size=6),
    length=st.integers(0, 5000),
)
def test_readinto_gives_the_same_bytes_for_any_chunking(
    sizes: list[int], reads: list[int], length: int
) -> None:
    data = b"RIFF\0\0\0\0WAVE" + bytes(i % 251 for i in range(length))
    stream = SniffedStream(OddReads(data, sizes), limit=len(data))
    assert stream.media_type is not None and stream.media_type.extension == "wav"
    got, turn = bytearray(), 0
    while True:
        buffer = bytearray(reads[turn % len(reads)])
        turn += 1
        count = stream.readinto(buffer)
        if not count:
            break
        got += buffer[:count]
    assert bytes(got) == data and stream.count == len(data)
    over = SniffedStream(OddReads(data, sizes), limit=len(data) - 1)
    with pytest.raises(AssetTooLargeError):
        while over.readinto(bytearray(reads[0])):
            pass
