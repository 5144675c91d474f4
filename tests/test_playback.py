"""playback_url: a stable link an <audio src> can use (no headers), signed per
asset, until expires_at; gone with the asset; keys rotate."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
import requests
from flask import Flask

from flask_indox_media.testing import serve_wsgi, wav_bytes
from tests.conftest import ALICE, Clock, create_clip, r2_config
from tests.test_media import upload

P = "/api/v1/resemble"


@pytest.fixture(params=["local", "r2"])
def served(
    request: pytest.FixtureRequest, make_gateway: Callable[..., Flask]
) -> Iterator[tuple[Flask, str]]:
    config = (
        r2_config(request.getfixturevalue("moto_endpoint"))
        if request.param == "r2"
        else {}
    )
    app = make_gateway(config)
    with serve_wsgi(app) as url:
        yield app, url


def test_every_asset_carries_a_playback_url_that_needs_no_headers(
    served: tuple[Flask, str],
) -> None:
    app, base = served
    data = wav_bytes(0.2)
    answer = upload(base, data).json()
    link = answer["playback_url"]
    assert link.startswith(f"{base}{P}/play/1.")
    played = requests.get(link, timeout=10)  # no Authorization header
    assert played.status_code == 200 and played.content == data
    assert played.history[0].status_code == 302
    download = requests.get(link + "?download=1", timeout=10)
    assert download.content == data
    assert download.headers["Content-Disposition"].startswith('attachment; filename="')
    assert download.headers["Content-Disposition"].endswith('.wav"')


def test_proxied_answers_carry_it_too(gateway: Flask) -> None:
    item = create_clip(gateway.test_client())
    assert item["playback_url"].startswith("http://localhost/api/v1/resemble/play/")
    response = gateway.test_client().get(item["playback_url"])
    assert response.status_code == 302


def test_it_stops_when_the_asset_is_deleted_or_expired(
    gateway: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = gateway.extensions["indox_media"].catalog
    clock = Clock(catalog.clock())
    monkeypatch.setattr(catalog, "clock", clock)
    client = gateway.test_client()
    response = client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav")},
        headers=ALICE,
    )
    up = response.get_json()
    assert client.get(up["playback_url"]).status_code == 302
    clock.advance(days=29, hours=23)
    assert client.get(up["playback_url"]).status_code == 302
    clock.advance(hours=1)
    expired = client.get(up["playback_url"])
    assert expired.status_code == 404 and expired.is_json
    clock.advance(days=-30)
    assert (
        client.delete(f"{P}/media/{up['asset_id']}", headers=ALICE).status_code == 204
    )
    assert client.get(up["playback_url"]).status_code == 404


def test_permanent_assets_get_a_link_for_the_playback_ttl(
    make_gateway: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_gateway({"INDOX_MEDIA_PLAYBACK_TTL": 3600})
    catalog = app.extensions["indox_media"].catalog
    clock = Clock(catalog.clock())
    monkeypatch.setattr(catalog, "clock", clock)
    client = app.test_client()
    up = client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav"), "purpose": "voice_clone"},
        headers=ALICE,
    ).get_json()
    assert up["expires_at"] is None
    assert client.get(up["playback_url"]).status_code == 302
    clock.advance(seconds=3600)
    assert client.get(up["playback_url"]).status_code == 404


def test_links_survive_a_key_rotation_and_garbage_is_404(
    make_gateway: Callable[..., Flask],
) -> None:
    old = make_gateway({"SECRET_KEY": "old"})
    up = (
        old.test_client()
        .post(
            f"{P}/uploads",
            data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav")},
            headers=ALICE,
        )
        .get_json()
    )
    path = up["playback_url"].removeprefix("http://localhost")
    rotated = make_gateway({"SECRET_KEY": "new", "SECRET_KEY_FALLBACKS": ["old"]})
    assert rotated.test_client().get(path).status_code == 302
    assert (
        make_gateway({"SECRET_KEY": "new"}).test_client().get(path).status_code == 404
    )
    client = rotated.test_client()
    token = path.rsplit("/", 1)[1]
    for garbage in (
        "ü",
        "1.ü.ü",
        "1.",
        # The signature's first character: all its bits count (the last
        # one's low bits may be base64 padding: flipped, the same signature).
        _flip_signature(token),
        token.replace("1.", "2.", 1),
        "x" * 400,
    ):
        response = client.get(f"{P}/play/{quote(garbage)}")
        assert response.status_code == 404 and response.is_json


def _flip_signature(token: str) -> str:
    body, _, signature = token.rpartition(".")
    first = "x" if signature[0] != "x" else "y"
    return f"{body}.{first}{signature[1:]}"
