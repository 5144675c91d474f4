"""A real browser (Debian's headless Chromium) plays and seeks audio served from
another origin to a page's ``<audio crossorigin="anonymous">`` element, as it
will play a presigned storage URL, and fails when the media origin's CORS
answer leaves the page's origin out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request, send_file
from selenium.webdriver.remote.webdriver import WebDriver

from flask_indox_media.testing import (
    BrowserUnavailableError,
    audio_page_html,
    chromium,
    probe_audio,
    serve_wsgi,
    wav_bytes,
)

SECONDS = 2.0
WAV = wav_bytes(SECONDS)


@dataclass
class MediaOrigin:
    """A stand-in for the storage origin: one WAV with Range support, CORS for
    the origins in ``allowed``, and a log of what it answered."""

    allowed: set[str] = field(default_factory=set)
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("media_origin")

        @app.get("/tone.wav")
        def tone() -> Response:
            # conditional=True is what answers a Range request with a 206.
            return send_file(io.BytesIO(WAV), mimetype="audio/wav", conditional=True)

        @app.after_request
        def cors(response: Response) -> Response:
            origin = request.headers.get("Origin")
            if origin in self.allowed:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = (
                    "Content-Range, Content-Length, Accept-Ranges"
                )
                # A preflight, should the browser send one for the Range header.
                response.headers["Access-Control-Allow-Headers"] = "Range"
            response.headers["Vary"] = "Origin"
            self.answers.append(
                (request.method, response.status_code, request.headers.get("Range"))
            )
            return response

        return app

    def statuses(self, method: str = "GET") -> list[int]:
        return [status for m, status, _ in self.answers if m == method]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserUnavailableError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def media() -> Iterator[tuple[MediaOrigin, str]]:
    origin = MediaOrigin()
    with serve_wsgi(origin.app()) as url:
        yield origin, url


def page_app(audio_url: str) -> Flask:
    app = Flask("page_origin")

    @app.get("/")
    def page() -> str:
        return audio_page_html(audio_url)

    return app


def test_cross_origin_audio_loads_seeks_and_plays(
    browser: WebDriver, media: tuple[MediaOrigin, str]
) -> None:
    origin, media_url = media
    with serve_wsgi(page_app(media_url + "/tone.wav")) as page_url:
        origin.allowed.add(page_url)
        probe = probe_audio(browser, page_url + "/")

    assert probe.error is None, probe
    assert probe.duration is not None and 1.9 <= probe.duration <= 2.1, probe
    assert probe.seeked_to is not None, probe
    assert abs(probe.seeked_to - probe.duration / 2) < 0.1, probe
    assert probe.played, probe
    assert probe.current_time > probe.seeked_to, probe
    assert 206 in origin.statuses(), origin.answers


def test_media_origin_without_cors_for_the_page_fails(
    browser: WebDriver, media: tuple[MediaOrigin, str]
) -> None:
    origin, media_url = media
    with (
        serve_wsgi(page_app(media_url + "/tone.wav")) as allowed_url,
        serve_wsgi(page_app(media_url + "/tone.wav")) as page_url,
    ):
        origin.allowed.add(allowed_url)
        probe = probe_audio(browser, page_url + "/")

    # Chromium reports a CORS refusal as "source not supported", as it would a
    # file it cannot decode.
    assert probe.error is not None and probe.error.code == 4, probe
    assert probe.duration is None, probe
    assert not probe.played, probe
    # The browser did ask: it is the missing CORS header that failed the load.
    assert origin.statuses(), origin.answers


def test_missing_browser_names_the_debian_packages() -> None:
    with pytest.raises(BrowserUnavailableError, match="chromium chromium-driver"):
        with chromium(driver="/nonexistent/chromedriver"):
            pass
