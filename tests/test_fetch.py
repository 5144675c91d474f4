"""SSRF protection: what the mirror and the gateway may fetch."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flask_indox_media.exceptions import AssetTooLargeError, SourceRejectedError
from flask_indox_media.fetch import Fetcher, HostPolicy, response_stream
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
    from flask_indox_media.fetch import SniffedStream

    stream = SniffedStream([b"RIFF\0\0\0\0WAVE" + bytes(200)], limit=100)
    assert stream.media_type is not None
    with pytest.raises(AssetTooLargeError):
        while stream.read(16):
            pass
