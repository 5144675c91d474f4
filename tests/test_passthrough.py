"""The native pass-through (``/v2/<path>``) forwards plain Resemble API paths
only: nothing that the HTTP client or the upstream would resolve to another
route of the host, with the gateway's key (issue 9)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_indox_media.endpoints import NATIVE_PREFIXES
from tests.conftest import ALICE

V2 = "/api/v1/resemble/v2/"


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e/%2e%2e/synthesize",
        "voices/%2e%2e/%2e%2e/synthesize",
        "voices/..%2f..%2fsynthesize",
        "voices/%2e%2e%2fsynthesize",
        "voices/%2E%2E/%2E%2E/synthesize",
        "voices/.%2e/.%2e/synthesize",
        "voices/%2e%2e%5csynthesize",
        "voices/..%5c..%5csynthesize",
        "voices/..\\..\\synthesize",
        "voices/a\\b",
        "voices/./x",
        "./voices",
        "voices/.",
        "voices/..",
        "voices//x",
        "voices/x//",
        "voices%2fx",
        "voices%2Fx",
        "voices/a%00b",
        "voices/%00",
        "voices/a%7fb",
        "voices/%252e%252e/%252e%252e/synthesize",
        "voices/%252fx",
        "voices/%25",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_hostile_paths_are_400_and_send_nothing(
    client: FlaskClient, fake: Any, path: str, method: str
) -> None:
    response = client.open(V2 + path, method=method, json={}, headers=ALICE)
    assert response.status_code == 400, response.data
    body = response.get_json()
    assert body["code"] == 400 and body["errors"]["path"]
    assert fake.received == []


@pytest.mark.parametrize(
    "path",
    [
        "synthesize",
        "stream",
        "nowhere",
        "nowhere/x",
        "v2/voices",
        "files/x",
        # Not matched by the route at all (werkzeug's path converter):
        "/voices",
        "voices/a%0ab",
        "voices/a%0d%0aHost:%20evil",
    ],
)
def test_paths_outside_the_native_api_are_404_and_send_nothing(
    client: FlaskClient, fake: Any, path: str
) -> None:
    response = client.post(V2 + path, json={}, headers=ALICE)
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert fake.received == []


#: Every path the official SDK and the gateway's own routes call (resemble-api.md,
#: section 4), with the method.
SDK_PATHS = [
    ("GET", "projects"),
    ("POST", "projects"),
    ("GET", "projects/p1"),
    ("PUT", "projects/p1"),
    ("DELETE", "projects/p1"),
    ("GET", "projects/p1/clips"),
    ("POST", "projects/p1/clips"),
    ("GET", "projects/p1/clips/c1"),
    ("PUT", "projects/p1/clips/c1"),
    ("DELETE", "projects/p1/clips/c1"),
    ("GET", "projects/p1/batch"),
    ("POST", "projects/p1/batch"),
    ("GET", "projects/p1/batch/b1"),
    ("DELETE", "projects/p1/batch/b1"),
    ("GET", "voices"),
    ("POST", "voices"),
    ("GET", "voices/v1"),
    ("PUT", "voices/v1"),
    ("PATCH", "voices/v1"),
    ("DELETE", "voices/v1"),
    ("POST", "voices/v1/build"),
    ("GET", "voices/v1/recordings"),
    ("POST", "voices/v1/recordings"),
    ("GET", "voices/v1/recordings/r1"),
    ("PUT", "voices/v1/recordings/r1"),
    ("DELETE", "voices/v1/recordings/r1"),
    ("POST", "voice-design"),
    ("POST", "voice-design/vd-1/1/create_rapid_voice"),
    ("POST", "speech-to-text"),
    ("GET", "speech-to-text/j1"),
    ("GET", "audio_enhancements"),
    ("POST", "audio_enhancements"),
    ("GET", "audio_enhancements/j1"),
    ("GET", "edit"),
    ("POST", "edit"),
    ("GET", "edit/j1"),
    ("POST", "watermark/apply"),
    ("GET", "watermark/apply/j1/result"),
    ("POST", "watermark/detect"),
    ("GET", "watermark/detect/j1/result"),
    ("POST", "detect"),
    ("GET", "detect/d1"),
    ("POST", "secure_uploads"),
    ("GET", "phonemes"),
    ("POST", "phonemes"),
    ("DELETE", "phonemes/ph1"),
    ("GET", "term_substitutions"),
    ("POST", "term_substitutions"),
    ("DELETE", "term_substitutions/t1"),
    ("POST", "identity/search"),
    ("POST", "intelligence"),
    ("GET", "intelligences/i1"),
    ("POST", "detects/d1/intelligence"),
    ("GET", "audio_source_tracings/s1"),
    ("GET", "voices/"),
    ("GET", "voices/v1/"),
]


@pytest.mark.parametrize(("method", "path"), SDK_PATHS)
def test_every_api_path_still_passes(
    client: FlaskClient, fake: Any, method: str, path: str
) -> None:
    client.open(V2 + path, method=method, headers=ALICE)
    assert [(r["method"], r["path"]) for r in fake.received] == [
        (method, "/api/v2/" + path)
    ]


def test_the_prefixes_cover_the_sdk_paths() -> None:
    assert {path.split("/")[0] for _, path in SDK_PATHS} <= set(NATIVE_PREFIXES)


def test_segments_are_quoted_upstream(client: FlaskClient, fake: Any) -> None:
    """A character the upstream would read as syntax arrives as data."""
    client.get(V2 + "voices/a%3Bb%3Fc%23d%20é", headers=ALICE)
    assert fake.received[-1]["path"] == "/api/v2/voices/a;b?c#d é"


def test_gateway_routes_cannot_be_steered_either(
    client: FlaskClient, fake: Any
) -> None:
    """The gateway's own routes build upstream paths from ids in the URL."""
    response = client.get("/api/v1/resemble/enhance/..", headers=ALICE)
    assert response.status_code == 400
    assert fake.received == []
