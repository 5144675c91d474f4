"""A real browser (Debian's headless Chromium) plays mirrored assets from the
example app's demo page (``/player``): from a presigned URL on a real S3
server (Ceph's RADOS Gateway) after ``flask indox-media cors apply``, and from
the local backend's signed URL; a page from an origin the CORS rules leave out
fails to load either."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from flask import Flask
from selenium.webdriver.remote.webdriver import WebDriver

from flask_indox_media.testing import (
    RGW,
    AudioProbe,
    BrowserUnavailableError,
    chromium,
    probe_audio,
    serve_wsgi,
)
from flask_indox_media.testing.fake_resemble.synthesis import CLIP_SECONDS
from tests.conftest import ALICE, gateway_config, rgw_config, work

pytestmark = pytest.mark.realworld

StartResponse = Callable[..., Any]
#: Headers that belong to one connection, not to the message (RFC 9110 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserUnavailableError as exc:
        pytest.fail(str(exc))


class Deferred:
    """A WSGI app set after its server has a port, so the app's configuration
    can name the origins it is served from."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Any:
        assert self.app is not None
        return self.app(environ, start)


@dataclass
class CountingProxy:
    """Forwards every request to ``target`` unchanged but for ``Host`` (a
    presigned URL signs the host it was made for), and logs each answer's
    method, status and the ``Range`` asked: how a test sees what RGW
    answered the browser."""

    target: str
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)

    def __call__(
        self, environ: dict[str, Any], start: StartResponse
    ) -> Iterable[bytes]:
        headers = {
            name[5:].replace("_", "-").title(): value
            for name, value in environ.items()
            if name.startswith("HTTP_") and name not in ("HTTP_HOST", "HTTP_CONNECTION")
        }
        upstream = requests.request(
            environ["REQUEST_METHOD"],
            self.target + environ["RAW_URI"],
            headers=headers,
            stream=True,
            allow_redirects=False,
            timeout=30,
        )
        self.answers.append(
            (environ["REQUEST_METHOD"], upstream.status_code, headers.get("Range"))
        )
        start(
            f"{upstream.status_code} {upstream.reason}",
            [
                (k, v)
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP
            ],
        )
        return _stream(upstream)


def _stream(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.raw.stream(64 * 1024, decode_content=False)
    finally:
        response.close()


def player(page_origin: str, audio_url: str) -> str:
    return f"{page_origin}/player?src={quote(audio_url, safe='')}"


def assert_plays(probe: AudioProbe) -> None:
    assert probe.error is None, probe
    assert probe.duration is not None, probe
    assert abs(probe.duration - CLIP_SECONDS) < 0.05, probe
    assert probe.seeked_to is not None, probe
    assert abs(probe.seeked_to - probe.duration / 2) < 0.05, probe
    assert probe.played, probe


def assert_refused(probe: AudioProbe) -> None:
    # Chromium reports a CORS refusal as "source not supported" (code 4).
    assert probe.error is not None and probe.error.code == 4, probe
    assert probe.duration is None and not probe.played, probe


def new_clip(origin: str) -> dict[str, Any]:
    """A clip created through the gateway over HTTP; its ``item``. Each probe
    plays a clip of its own: the browser's cache must not answer for the
    server."""
    response = requests.post(
        f"{origin}/api/v1/resemble/projects/p/clips",
        json={"voice_uuid": "v", "body": "x"},
        headers=ALICE,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["item"]
    return item


@pytest.fixture
def two_origins() -> Iterator[tuple[Deferred, str, str]]:
    """One app served twice: from an origin the CORS rules will allow and
    from another."""
    app = Deferred()
    with serve_wsgi(app) as allowed, serve_wsgi(app) as refused:
        yield app, allowed, refused


def test_rgw_audio_plays_after_cors_apply_and_not_from_other_origins(
    browser: WebDriver,
    rgw: RGW,
    redis_db: str,
    upstream: str,
    two_origins: tuple[Deferred, str, str],
) -> None:
    from example_app import create_app

    deferred, allowed, refused = two_origins
    app = create_app(
        {
            **gateway_config(upstream),
            **rgw_config(rgw, "r2"),
            "INDOX_MEDIA_REDIS_URL": redis_db,
            "INDOX_MEDIA_CORS_ORIGINS": [allowed],
        }
    )
    deferred.app = app
    result = app.test_cli_runner().invoke(args=["indox-media", "cors", "apply"])
    assert result.exit_code == 0 and "add indox-media-playback" in result.output
    clips = [new_clip(allowed) for _ in range(3)]
    work(app)
    assert all(u["audio_url"].startswith(rgw.endpoint + "/") for u in clips)

    assert_plays(probe_audio(browser, player(allowed, clips[0]["audio_url"])))

    # The same kind of URL through a counting proxy, to see RGW's answers.
    proxy = CountingProxy(rgw.endpoint)
    with serve_wsgi(proxy) as proxy_url:
        proxied = clips[1]["audio_url"].replace(rgw.endpoint, proxy_url, 1)
        assert_plays(probe_audio(browser, player(allowed, proxied)))
    ranged = [(s, r) for m, s, r in proxy.answers if m == "GET" and r]
    assert ranged and all(status == 206 for status, _ in ranged), proxy.answers
    # A 0.5 s clip is buffered whole by the first request, so the seek asks
    # nothing more; what a seek into an unbuffered part would ask, RGW answers
    # with the headers a cross-origin player may read.
    middle = requests.get(
        clips[1]["audio_url"],
        headers={"Origin": allowed, "Range": "bytes=1000-"},
        timeout=10,
    )
    assert middle.status_code == 206
    assert middle.headers["Content-Range"].startswith("bytes 1000-")
    assert middle.headers["Access-Control-Allow-Origin"] == allowed
    exposed = middle.headers["Access-Control-Expose-Headers"].lower()
    assert "content-range" in exposed and "accept-ranges" in exposed

    assert_refused(probe_audio(browser, player(refused, clips[2]["audio_url"])))
    # RGW answered, without the refused origin in Access-Control-Allow-Origin.
    answer = requests.get(
        clips[2]["audio_url"], headers={"Origin": refused}, timeout=10
    )
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_local_audio_plays_from_allowed_origins_only(
    browser: WebDriver,
    make_gateway: Callable[..., Flask],
    two_origins: tuple[Deferred, str, str],
) -> None:
    deferred, allowed, refused = two_origins
    app = make_gateway({"INDOX_MEDIA_CORS_ORIGINS": [allowed]})
    deferred.app = app
    # The files' origin is a third one: the same app on another port.
    with serve_wsgi(app) as media:
        clips = [new_clip(media) for _ in range(2)]
        urls = [c["audio_url"] for c in clips]
        assert all(urlsplit(u).netloc == urlsplit(media).netloc for u in urls)
        assert_plays(probe_audio(browser, player(allowed, urls[0])))
        assert_refused(probe_audio(browser, player(refused, urls[1])))
