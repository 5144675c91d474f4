"""Races that must not duplicate or lose an object: eight concurrent polls of
one finished job, and Resemble delivering a callback twice at once. Real
Redis, the gateway over real HTTP (threaded), a real RQ worker."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask

from flask_indox_media.testing import serve_wsgi, wav_bytes
from tests.conftest import ALICE, Receiver, work
from tests.test_jobs import listing_receiver

P = "/api/v1/resemble"


def stored(app: Flask, prefix: str) -> list[str]:
    primary = app.extensions["indox_media"].catalog.primary
    return [info.key for info in primary.list_objects(prefix)]


def test_eight_concurrent_polls_of_a_finished_job_make_one_object(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any, upstream: str
) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_db})
    with fake.app.test_request_context(base_url=upstream):
        source = fake.add_file(wav_bytes(0.3), "audio/wav", "wav")
    with serve_wsgi(app) as base:
        uuid = requests.post(
            f"{base}{P}/enhance", json={"audio_url": source}, headers=ALICE, timeout=10
        ).json()["uuid"]
        first = requests.get(f"{base}{P}/enhance/{uuid}", headers=ALICE, timeout=10)
        assert first.json()["status"] == "processing"  # then it is finished

        def poll(_: int) -> dict[str, Any]:
            answer = requests.get(
                f"{base}{P}/enhance/{uuid}", headers=ALICE, timeout=30
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(poll, range(8)))
    assert {a["status"] for a in answers} == {"completed"}
    assert len({a["asset_id"] for a in answers}) == 1  # one asset for all eight
    work(app)
    [key] = stored(app, "audio-jobs/alice/")  # exactly one object
    name = urlsplit(answers[0]["resemble_url"]).path.rsplit("/", 1)[1]
    with app.extensions["indox_media"].catalog.primary.open(key) as data:
        assert data.read() == fake.files[name][0]


def test_a_callback_delivered_twice_at_once_mirrors_once(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    fake: Any,
    upstream: str,
    receiver: tuple[Receiver, str],
) -> None:
    got, receiver_url = receiver
    app = listing_receiver(make_gateway, redis_db, upstream, receiver_url)
    with serve_wsgi(app) as base:
        requests.post(
            f"{base}{P}/projects/p1/clips",
            json={"voice_uuid": "v", "body": "twice", "callback_uri": receiver_url},
            headers=ALICE,
            timeout=10,
        ).raise_for_status()
        [(callback_url, payload)] = fake.pending_callbacks

        def deliver(_: int) -> int:
            return requests.post(callback_url, json=payload, timeout=30).status_code

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(deliver, range(2))) == [200, 200]
        work(app)
    [key] = stored(app, "tts/alice/")  # one object, not two
    name = urlsplit(payload["url"]).path.rsplit("/", 1)[1]
    with app.extensions["indox_media"].catalog.primary.open(key) as data:
        assert data.read() == fake.files[name][0]
    # The caller hears of it twice (as Resemble told it twice), about one asset.
    assert len(got.payloads) == 2
    assert len({p["asset_id"] for p in got.payloads}) == 1
