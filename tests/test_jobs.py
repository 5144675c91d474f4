"""Mirroring through a real Redis and real RQ workers, and the official SDK end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from flask_indox_media.assets import Asset
from flask_indox_media.keys import AssetClassTable
from flask_indox_media.mirror import download
from flask_indox_media.mirror.download import job_id
from flask_indox_media.mirror.rewrite import rewrite
from flask_indox_media.storage.s3_config import MiB
from flask_indox_media.testing import serve_wsgi, wav_bytes
from flask_indox_media.testing.counting import redis_round_trips, s3_requests
from tests.conftest import ALICE, Receiver, create_clip, make_bucket, r2_config, work

P = "/api/v1/resemble"


@pytest.fixture
def queued(make_gateway: Callable[..., Flask], redis_db: str) -> Flask:
    return make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": [1, 2]}
    )


def mirror_job_id(key: str) -> str:
    return job_id(Asset(AssetClassTable().parse(key), "local"))


def queue_of(app: Flask) -> Queue:
    queue: Queue = app.extensions["indox_media"].queue.rq
    return queue


def test_mirrors_run_in_a_worker(queued: Flask, fake: Any) -> None:
    client = queued.test_client()
    item = create_clip(client)
    state = queued.extensions["indox_media"]
    key = item["audio_url"].split("/indox-media/local/")[1].split("?")[0]
    assert not state.catalog.primary.exists(key)  # presigned before the object exists
    assert queue_of(queued).count == 1
    job = queue_of(queued).jobs[0]
    assert job.id == mirror_job_id(key)
    assert job.retries_left == 2 and job.retry_intervals == [1, 2]
    assert job.timeout == 600 and job.failure_ttl == 24 * 3600
    assert job.kwargs == {
        "backend": "local",
        "key": key,
        "source_url": item["resemble_url"],
        "claim": job.kwargs["claim"],  # marked mirrored by the job
    }
    assert job.kwargs["claim"].startswith("indox-media:asset:")
    assert item["mirror_status"] == "scheduled"
    work(queued)
    info = state.catalog.primary.head(key)
    assert info is not None and info.content_type == "audio/wav"
    assert info.metadata["user-id"] == "alice" and info.metadata["asset-class"] == "tts"
    assert info.metadata["source-url"] == item["resemble_url"]
    with client.get(item["audio_url"]) as response:
        assert response.data == fake.files[item["resemble_url"].rsplit("/", 1)[1]][0]


def test_repeated_polls_enqueue_one_job_and_store_one_object(
    queued: Flask, fake: Any
) -> None:
    client = queued.test_client()
    src = create_clip(client)
    work(queued)
    job = client.post(
        f"{P}/enhance", json={"audio_url": src["audio_src"]}, headers=ALICE
    )
    enh = job.get_json()["uuid"]
    client.get(f"{P}/enhance/{enh}", headers=ALICE)
    polls = [
        client.get(f"{P}/enhance/{enh}", headers=ALICE).get_json() for _ in range(3)
    ]
    assert len({p["asset_id"] for p in polls}) == 1
    assert queue_of(queued).count == 1  # unique job id: the later polls add none
    work(queued)
    polls.append(client.get(f"{P}/enhance/{enh}", headers=ALICE).get_json())
    assert len({p["asset_id"] for p in polls}) == 1
    work(queued)  # a job that finds its object does nothing
    backend = queued.extensions["indox_media"].catalog.primary
    assert len(list(backend.list_objects("audio-jobs/alice/"))) == 1


def test_a_failing_mirror_retries_then_stays_visible(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any
) -> None:
    app = make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": []}
    )
    client = app.test_client()
    item = create_clip(client)
    name = item["resemble_url"].rsplit("/", 1)[1]
    saved = fake.files.pop(name)  # the upstream file is gone: 404
    work(app)
    registry = FailedJobRegistry(queue=queue_of(app))
    key = item["audio_url"].split("/indox-media/local/")[1].split("?")[0]
    assert registry.get_job_ids() == [mirror_job_id(key)]
    state = app.extensions["indox_media"]
    assert not state.catalog.primary.exists(key)
    fake.files[name] = saved  # it is back: re-run the failed job
    registry.requeue(mirror_job_id(key))
    work(app)
    assert state.catalog.primary.exists(key)
    assert registry.get_job_ids() == []


def test_retries_are_scheduled_with_backoff(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any
) -> None:
    app = make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": [30]}
    )
    client = app.test_client()
    item = create_clip(client)
    fake.files.clear()
    work(app)
    key = item["audio_url"].split("/indox-media/local/")[1].split("?")[0]
    job = Job.fetch(mirror_job_id(key), connection=app.extensions["indox_media"].redis)
    assert job.get_status() == "scheduled" and job.retries_left == 0


def test_cli_worker_burst(queued: Flask) -> None:
    client = queued.test_client()
    item = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=ALICE
    )
    assert item.status_code == 200
    create_clip(client)
    assert (
        queue_of(queued).count == 1
    )  # inline audio is stored in the request, URLs queued
    result = queued.test_cli_runner().invoke(args=["indox-media", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert queue_of(queued).count == 0
    assert (
        len(
            list(
                queued.extensions["indox_media"].catalog.primary.list_objects(
                    "tts/alice/"
                )
            )
        )
        == 2
    )


def test_cli_worker_without_redis(gateway: Flask) -> None:
    result = gateway.test_cli_runner().invoke(args=["indox-media", "worker", "--burst"])
    assert result.exit_code != 0 and "INDOX_MEDIA_REDIS_URL" in result.output


def listing_receiver(
    make_gateway: Callable[..., Flask], redis_db: str, upstream: str, receiver_url: str
) -> Flask:
    """A queued gateway whose trusted hosts list the caller's callback receiver
    (on loopback, so only as a listed ``host:port``)."""
    hosts = ",".join(
        "127.0.0.1:" + u.rsplit(":", 1)[1] for u in (upstream, receiver_url)
    )
    return make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_SOURCE_HOSTS": hosts}
    )


def test_async_clip_callback_is_mirrored_and_forwarded(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    fake: Any,
    upstream: str,
    receiver: tuple[Receiver, str],
) -> None:
    got, receiver_url = receiver
    app = listing_receiver(make_gateway, redis_db, upstream, receiver_url)
    with serve_wsgi(app) as gateway_url:
        created = requests.post(
            f"{gateway_url}{P}/projects/p1/clips",
            json={
                "voice_uuid": "v",
                "body": "later",
                "callback_uri": receiver_url + "/hook",
            },
            headers=ALICE,
            timeout=10,
        ).json()["item"]
        assert "audio_url" not in created  # no audio yet
        sent_callback = fake.pending_callbacks[0][0]
        assert sent_callback.startswith(gateway_url + P + "/callbacks/")
        assert "hook" not in sent_callback  # the caller's URL is not shown to Resemble
        assert fake.deliver_callbacks() == [200]
        forged = requests.post(sent_callback[:-3] + "abc", json={}, timeout=5)
        assert forged.status_code == 404
        work(app)
    assert len(got.payloads) == 1
    payload = got.payloads[0]
    assert payload["id"] == created["uuid"] and payload["asset_class"] == "tts"
    assert payload["resemble_url"] == payload["url"]
    key = payload["audio_url"].split("/indox-media/local/")[1].split("?")[0]
    assert app.extensions["indox_media"].catalog.primary.exists(key)


def test_callbacks_are_not_forwarded_to_private_addresses(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    fake: Any,
    receiver: tuple[Receiver, str],
) -> None:
    got, receiver_url = receiver
    app = make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": []}
    )
    with serve_wsgi(app) as gateway_url:
        requests.post(
            f"{gateway_url}{P}/projects/p1/clips",
            json={
                "voice_uuid": "v",
                "body": "later",
                "callback_uri": receiver_url + "/hook",
            },
            headers=ALICE,
            timeout=10,
        )
        fake.deliver_callbacks()
        work(app)
    assert got.payloads == []  # http on loopback, not listed: refused
    failed = FailedJobRegistry(queue=queue_of(app))
    assert len(failed.get_job_ids()) == 1


def test_official_sdk_end_to_end_over_http(
    make_gateway: Callable[..., Flask], redis_db: str, moto_endpoint: str, fake: Any
) -> None:
    """The resemble SDK, unchanged, through the gateway; R2 is moto in server mode."""
    from resemble import Resemble

    bucket = make_bucket(moto_endpoint, region="auto")
    app = make_gateway(
        {
            "INDOX_MEDIA_REDIS_URL": redis_db,
            "INDOX_MEDIA_STORAGE_BACKEND": "r2",
            "INDOX_MEDIA_R2_ENDPOINT_URL": moto_endpoint,
            "INDOX_MEDIA_R2_BUCKET": bucket,
            "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
        }
    )
    with serve_wsgi(app) as gateway_url:
        Resemble.api_key("key-a")
        Resemble.base_url(f"{gateway_url}{P}/")
        response = Resemble.v2.clips.create_sync(
            "proj-1", "voice-1", "Hello from the SDK"
        )
        item = response["item"]
        assert response["success"] is True and item["asset_class"] == "tts"
        assert item["audio_url"].startswith(f"{moto_endpoint}/{bucket}/tts/alice/")
        assert requests.get(item["audio_url"], timeout=10).status_code == 404  # not yet
        work(app)
        mirrored = requests.get(item["audio_url"], timeout=10)
        assert mirrored.status_code == 200
        assert mirrored.headers["Content-Type"] == "audio/wav"
        assert mirrored.content == fake.files[item["resemble_url"].rsplit("/", 1)[1]][0]
        fetched = Resemble.v2.clips.get("proj-1", item["uuid"])
        assert fetched["item"]["asset_id"] == item["asset_id"]
        Resemble.direct_syn_server_url(f"{gateway_url}{P}/synthesize")
        direct = Resemble.v2.clips.create_direct(
            "proj-1", "voice-1", "Direct", output_format="mp3"
        )
        assert direct["asset_class"] == "tts"
        assert (
            requests.get(direct["audio_url"], timeout=10).headers["Content-Type"]
            == "audio/mpeg"
        )


def test_batch_callback_through_the_native_api(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    fake: Any,
    upstream: str,
    receiver: tuple[Receiver, str],
) -> None:
    got, receiver_url = receiver
    app = listing_receiver(make_gateway, redis_db, upstream, receiver_url)
    with serve_wsgi(app) as gateway_url:
        created = requests.post(
            f"{gateway_url}{P}/v2/projects/p1/batch",
            json={
                "voice_uuid": "v",
                "body": ["one", "two"],
                "callback_uri": receiver_url + "/batch",
            },
            headers={"Authorization": "Token token=key-a"},
            timeout=10,
        )
        assert created.status_code == 200 and created.json()["item"]["total_count"] == 2
        assert fake.pending_callbacks[0][0].startswith(gateway_url + P + "/callbacks/")
        assert fake.deliver_callbacks() == [200]
        work(app)
    clips = got.payloads[0]["clips"]
    assert [c["asset_class"] for c in clips] == ["tts", "tts"]
    state = app.extensions["indox_media"]
    for clip in clips:
        key = clip["audio_url"].split("/indox-media/local/")[1].split("?")[0]
        with state.catalog.primary.open(key) as stored:
            assert (
                stored.read() == fake.files[clip["resemble_url"].rsplit("/", 1)[1]][0]
            )


def _key(state: Any, item: dict[str, Any]) -> str:
    key = state.catalog.primary.key_from_url(item["audio_url"])
    assert key is not None
    return str(key)


def test_each_mirror_is_one_write_and_a_repeat_poll_none(
    make_gateway: Callable[..., Flask], redis_db: str, moto_endpoint: str, fake: Any
) -> None:
    """S3 requests per mirrored asset, counted by operation: below the
    multipart threshold one PutObject and no HEAD, above it create, parts and
    complete; a poll of a finished job sends none (its claim says seen)."""
    app = make_gateway(
        {
            "INDOX_MEDIA_REDIS_URL": redis_db,
            **r2_config(moto_endpoint),
            "INDOX_MEDIA_MULTIPART_THRESHOLD": 5 * MiB,
            "INDOX_MEDIA_MULTIPART_CHUNKSIZE": 5 * MiB,
        }
    )
    state = app.extensions["indox_media"]
    client = app.test_client()
    small, big = create_clip(client), create_clip(client)
    fake.files[big["resemble_url"].rsplit("/", 1)[1]] = (
        wav_bytes(11 * MiB / 32000),  # 16 kHz, 16-bit: 11 MiB
        "audio/wav",
    )
    queue_of(app).empty()  # the jobs run here, one at a time, each counted
    counts = []
    with app.app_context():
        for item in (small, big, big):  # the last: a re-run of a finished job
            with s3_requests(state.catalog.primary.client) as sent:
                result = download.mirror_url(
                    state, "r2", _key(state, item), item["resemble_url"]
                )
            counts.append((dict(sent), result["skipped"]))
        with s3_requests(state.catalog.primary.client) as sent:
            result = download.mirror_url(
                state, "r2", _key(state, small), small["resemble_url"]
            )
        counts.append((dict(sent), result["skipped"]))
    parts = {"CreateMultipartUpload": 1, "UploadPart": 3, "CompleteMultipartUpload": 1}
    assert counts == [
        ({"PutObject": 1}, False),
        (parts, False),
        ({**parts, "AbortMultipartUpload": 1}, True),  # refused at the completion
        ({"PutObject": 1}, True),  # refused with 412, no HEAD first
    ]
    polls = []
    for _ in range(2):
        with s3_requests(state.catalog.primary.client) as sent:
            polled = client.get(f"{P}/projects/p/clips/{small['uuid']}", headers=ALICE)
            assert queue_of(app).count == 0
            work(app)
        item = polled.get_json()["item"]
        assert item["asset_id"] == small["asset_id"]
        polls.append((dict(sent), item["mirror_status"]))
    # The jobs ran outside RQ (and were emptied): the first poll finds no job,
    # asks the storage once and marks the claim; from then on, nothing.
    assert polls == [({"HeadObject": 1}, "mirrored"), ({}, "mirrored")]


def _clip_list(prefix: str, n: int) -> bytes:
    audio = "https://app.resemble.ai/rails/active_storage/blobs/{}/clip.wav"
    items = [
        {"uuid": f"{prefix}{j}", "audio_src": audio.format(f"{prefix}{j}")}
        for j in range(n)
    ]
    return json.dumps({"items": items}).encode()


def test_a_response_costs_the_same_redis_round_trips_whatever_its_assets(
    queued: Flask,
) -> None:
    """Claims in one script call (each with the key it got), new jobs in one
    more: 2 round trips for a first view of 1, 10 or 100 assets; 2 when all
    were seen and are still pending (claims, their jobs' states); 1 once
    mirrored (the claims say so); 3 when some were seen and some new."""
    state = queued.extensions["indox_media"]
    first, seen, mirrored = {}, {}, {}
    with queued.test_request_context():
        for _ in range(2):  # connects, loads the scripts (once per Redis)
            rewrite(state, _clip_list("warm", 1), "clip", "alice")
        for n in (1, 10, 100):
            body = _clip_list(f"n{n}-", n)
            with redis_round_trips() as trips:
                rewrite(state, body, "clip", "alice")
            first[n] = trips[0]
            with redis_round_trips() as trips:
                rewrite(state, body, "clip", "alice")
            seen[n] = trips[0]
        mixed = json.loads(_clip_list("n10-", 10))
        mixed["items"] += json.loads(_clip_list("new-", 10))["items"]
        with redis_round_trips() as trips:
            rewrite(state, json.dumps(mixed).encode(), "clip", "alice")
        assert trips[0] == 3
        assert queue_of(queued).count == 1 + 111 + 10
        job = queue_of(queued).jobs[-1]
        assert job.retries_left == 2 and job.timeout == 600
        assert job.failure_ttl == 24 * 3600 and job.result_ttl == 3600
        for job in queue_of(queued).jobs:  # as a worker's job would on success
            state.claims.mark_mirrored(
                job.kwargs["claim"], state.catalog.from_key("local", job.kwargs["key"])
            )
        for n in (1, 10, 100):
            with redis_round_trips() as trips:
                rewrite(state, _clip_list(f"n{n}-", n), "clip", "alice")
            mirrored[n] = trips[0]
        lost = _clip_list("lost-", 10)
        rewrite(state, lost, "clip", "alice")
        queue_of(queued).empty()  # the jobs are gone, their claims stay
        with redis_round_trips() as trips:
            rewrite(state, lost, "clip", "alice")  # + one HEAD per asset
        assert trips[0] == 4  # claims, job states, discard (none), enqueue
    assert first == {1: 2, 10: 2, 100: 2}
    assert seen == {1: 2, 10: 2, 100: 2}
    assert mirrored == {1: 1, 10: 1, 100: 1}


@pytest.mark.parametrize("fault", ["cut", "stall"])
def test_a_source_fault_leaves_no_half_object_and_its_retry_stores_it_whole(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any, fault: str
) -> None:
    """The upstream's file cut short mid-body, or stalling past the read
    timeout: the job fails without writing anything; once the fault clears,
    the retry stores the whole file, once."""
    app = make_gateway(
        {
            "INDOX_MEDIA_REDIS_URL": redis_db,
            "INDOX_MEDIA_JOB_RETRIES": [],
            "INDOX_MEDIA_UPSTREAM_READ_TIMEOUT": 1,
        }
    )
    item = create_clip(app.test_client())
    name = item["resemble_url"].rsplit("/", 1)[1]
    fake.break_file(name, fault, after=1000)
    work(app)
    key = item["audio_url"].split("/indox-media/local/")[1].split("?")[0]
    registry = FailedJobRegistry(queue=queue_of(app))
    assert registry.get_job_ids() == [mirror_job_id(key)]
    primary = app.extensions["indox_media"].catalog.primary
    assert list(primary.list_objects("tts/alice/")) == []  # no half object
    fake.faults.file_faults.clear()
    fake.release_stalls()
    registry.requeue(mirror_job_id(key))
    work(app)
    assert [info.key for info in primary.list_objects("tts/alice/")] == [key]
    with primary.open(key) as data:
        assert data.read() == fake.files[name][0]
