"""``X-Request-ID``: a caller's valid id names its assets' keys (plus a random
suffix, so keys never repeat) and is echoed; an invalid or missing one is
replaced by a fresh id, echoed too."""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

import pytest
from flask import Flask

from flask_indox_media.testing import wav_bytes
from flask_indox_media.testing.fake_resemble.synthesis import make_clip
from flask_indox_media.web import blueprint
from tests.conftest import ALICE

P = "/api/v1/resemble"
FRESH = r"req_[0-9a-f]{20}"


def upload(client: Any, **headers: str) -> Any:
    return client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(wav_bytes(0.1)), "take.wav")},
        headers={**ALICE, **headers},
    )


def request_id_of(key: str) -> str:
    match = re.search(r"/\d{6}-([^/.]+)\.\w+$", key)
    assert match is not None, key
    return match[1]


def stored_keys(app: Flask, prefix: str) -> list[str]:
    backend = app.extensions["indox_media"].catalog.primary
    return [info.key for info in backend.list_objects(prefix)]


def test_upload_key_carries_the_callers_id_and_it_is_echoed(gateway: Flask) -> None:
    response = upload(gateway.test_client(), **{"X-Request-ID": "trace-42_A"})
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "trace-42_A"
    assert re.fullmatch(r"trace-42_A-[0-9a-f]{8}", request_id_of(response.json["key"]))


def test_a_reused_id_gives_new_keys(gateway: Flask) -> None:
    client = gateway.test_client()
    keys = [upload(client, **{"X-Request-ID": "same"}).json["key"] for _ in range(3)]
    assert len(set(keys)) == 3
    assert all(request_id_of(k).startswith("same-") for k in keys)


def test_every_asset_of_one_answer_gets_its_own_key(
    gateway: Flask, fake: Any, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake.app.test_request_context(base_url=upstream):
        for text in ("one", "two"):
            make_clip(fake, "p", {"voice_uuid": "v"}, text)
    # The first two suffixes drawn are equal: the second asset draws again.
    drawn = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    real = secrets.token_hex
    monkeypatch.setattr(
        blueprint.secrets,
        "token_hex",
        lambda n=None: next(drawn) if n == 4 else real(n),
    )
    response = gateway.test_client().get(
        f"{P}/projects/p/clips", headers={**ALICE, "X-Request-ID": "list-7"}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "list-7"
    keys = [item["audio_url"] for item in response.json["items"]]
    assert sorted(request_id_of(k.split("?")[0]) for k in keys) == [
        "list-7-aaaaaaaa",
        "list-7-bbbbbbbb",
    ]
    assert len(stored_keys(gateway, "tts/alice/")) == 2


def test_a_long_id_is_echoed_whole_and_cut_in_the_key(gateway: Flask) -> None:
    long_id = "a" * 64
    response = upload(gateway.test_client(), **{"X-Request-ID": long_id})
    assert response.headers["X-Request-ID"] == long_id
    assert re.fullmatch(r"a{55}-[0-9a-f]{8}", request_id_of(response.json["key"]))


@pytest.mark.parametrize(
    "bad", ["", "has space", "../up", "-lead", "a" * 65, "dot.ted", "caf\u00e9"]
)
def test_an_invalid_id_is_replaced(gateway: Flask, bad: str) -> None:
    client = gateway.test_client()
    headers = {"X-Request-ID": bad.encode().decode("latin-1")}
    response = upload(client, **headers)
    assert response.status_code == 201
    fresh = response.headers["X-Request-ID"]
    assert re.fullmatch(FRESH, fresh)
    assert re.fullmatch(fresh + r"-[0-9a-f]{8}", request_id_of(response.json["key"]))


def test_without_an_id_one_is_made_and_echoed(gateway: Flask) -> None:
    client = gateway.test_client()
    response = upload(client)
    fresh = response.headers["X-Request-ID"]
    assert re.fullmatch(FRESH, fresh)
    assert request_id_of(response.json["key"]).startswith(fresh + "-")
    # A refused request answers with its id too.
    refused = client.get(f"{P}/media", headers={"X-Request-ID": "who-am-i"})
    assert refused.status_code == 401
    assert refused.headers["X-Request-ID"] == "who-am-i"


def test_outside_a_request_keys_get_fresh_ids(app: Flask) -> None:
    with app.app_context():
        asset = app.extensions["indox_media"].catalog.new("tts", "alice", "wav")
    assert re.fullmatch(FRESH, asset.parsed.request_id)
