"""CORS on the local backend's file responses: the origins, methods and
headers the bucket rules give S3 and R2 (``cors apply``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_indox_media.ops.bucket_rules import desired_cors
from flask_indox_media.web import cors

PAGE = "https://app.example.com"
KEY = "tts/u/2026/05/01/101500-r.wav"


def stored(make_app: Callable[..., Flask], **config: Any) -> tuple[Flask, str]:
    """An app with one local object, and its signed URL."""
    app = make_app(config)
    state = app.extensions["indox_media"]
    backend = state.catalog.primary
    backend.put(KEY, io.BytesIO(b"RIFF" + bytes(100)), content_type="audio/wav")
    url = backend.presigned_url(KEY, expires_in=600, now=state.catalog.clock())
    return app, url


@pytest.fixture
def allowed(make_app: Callable[..., Flask]) -> tuple[Flask, str]:
    return stored(make_app, INDOX_MEDIA_CORS_ORIGINS=[PAGE, "http://127.0.0.1:5000"])


def test_an_allowed_origin_is_echoed_with_the_player_headers(
    allowed: tuple[Flask, str],
) -> None:
    app, url = allowed
    headers = {"Origin": PAGE, "Range": "bytes=0-9"}
    with app.test_client().get(url, headers=headers) as response:
        assert response.status_code == 206
        assert response.headers["Access-Control-Allow-Origin"] == PAGE
        assert response.headers["Vary"] == "Origin"
        exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
        assert set(exposed) == {
            "Content-Range",
            "Content-Length",
            "Accept-Ranges",
            "ETag",
        }


@pytest.mark.parametrize("origin", [None, "https://evil.example.com", "null"])
def test_other_origins_get_no_allow_header(
    allowed: tuple[Flask, str], origin: str | None
) -> None:
    app, url = allowed
    headers = {"Origin": origin} if origin else {}
    with app.test_client().get(url, headers=headers) as response:
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers
        # Still varies: a shared cache must not serve this to an allowed origin.
        assert response.headers["Vary"] == "Origin"


def test_a_preflight_is_answered_for_allowed_origins_only(
    allowed: tuple[Flask, str],
) -> None:
    app, url = allowed
    preflight = {"Access-Control-Request-Method": "GET"}
    preflight["Access-Control-Request-Headers"] = "range"
    with app.test_client().options(url, headers={**preflight, "Origin": PAGE}) as ok:
        assert ok.status_code == 200
        assert ok.headers["Access-Control-Allow-Origin"] == PAGE
        assert ok.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
        assert ok.headers["Access-Control-Allow-Headers"] == "Range"
        assert ok.headers["Access-Control-Max-Age"] == "3600"
    other = {**preflight, "Origin": "https://evil.example.com"}
    with app.test_client().options(url, headers=other) as refused:
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "Access-Control-Allow-Methods" not in refused.headers


def test_errors_carry_the_headers_too(allowed: tuple[Flask, str]) -> None:
    """So the page's script sees the 403 of an expired URL, not a CORS error."""
    app, url = allowed
    tampered = url.replace("signature=", "signature=0")
    with app.test_client().get(tampered, headers={"Origin": PAGE}) as response:
        assert response.status_code == 403
        assert response.headers["Access-Control-Allow-Origin"] == PAGE


def test_no_origins_configured_means_no_cors_headers(
    make_app: Callable[..., Flask],
) -> None:
    app, url = stored(make_app)
    with app.test_client().get(url, headers={"Origin": PAGE}) as response:
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Vary" not in response.headers


def test_a_wildcard_allows_every_origin(make_app: Callable[..., Flask]) -> None:
    app, url = stored(make_app, INDOX_MEDIA_CORS_ORIGINS="*")
    with app.test_client().get(url, headers={"Origin": PAGE}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == PAGE


def test_the_local_rules_are_the_bucket_rules() -> None:
    [rule] = desired_cors([PAGE])
    assert tuple(rule["ExposeHeaders"]) == cors.EXPOSE_HEADERS
    assert tuple(rule["AllowedMethods"]) == cors.ALLOW_METHODS
    assert tuple(rule["AllowedHeaders"]) == cors.ALLOW_HEADERS
    assert rule["MaxAgeSeconds"] == cors.MAX_AGE_SECONDS
