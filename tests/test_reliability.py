"""The failure semantics of docs/reliability.rst, each with the real part
that fails: a redis-server (append-only file) killed and restarted, an S3
server stopped and started, jobs lost."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from moto.server import ThreadedMotoServer
from redis import Redis
from rq.job import Job

from flask_indox_media import QueueError
from flask_indox_media.mirror.download import job_id
from flask_indox_media.ops.doctor import checks
from flask_indox_media.ops.users import erase_user
from flask_indox_media.testing import RedisProcess, free_port
from tests.conftest import ALICE, create_clip, make_bucket, work

P = "/api/v1/resemble"


@pytest.fixture
def redis_aof(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, with an append-only file."""
    binary = shutil.which("redis-server")
    assert binary is not None
    (tmp_path / "redis").mkdir()
    server = RedisProcess(binary, aof_dir=str(tmp_path / "redis"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


def poll(client: Any, uuid: str) -> dict[str, Any]:
    response = client.get(f"{P}/projects/p/clips/{uuid}", headers=ALICE)
    assert response.status_code == 200
    item: dict[str, Any] = response.get_json()["item"]
    return item


def key_of(app: Flask, item: dict[str, Any]) -> str:
    key = app.extensions["indox_media"].catalog.primary.key_from_url(item["audio_url"])
    assert key is not None
    return str(key)


def test_redis_down_answers_unmirrored_and_a_later_poll_mirrors(
    make_gateway: Callable[..., Flask], redis_aof: RedisProcess, fake: Any
) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_aof.url})
    client = app.test_client()
    before = create_clip(client)  # its job is queued, then Redis crashes
    redis_aof.kill()
    during = create_clip(client)
    assert during["mirror_status"] == "unmirrored"
    assert during["audio_url"] is None and not during.get("playback_url")
    assert "asset_id" not in during  # nothing will ever be stored under one
    assert during["resemble_url"].startswith("http")
    assert poll(client, before["uuid"])["mirror_status"] == "unmirrored"
    redis_aof.start()  # the append-only file brings back the first job
    again = poll(client, during["uuid"])
    assert again["mirror_status"] == "scheduled" and again["audio_url"]
    assert poll(client, before["uuid"])["mirror_status"] == "pending"
    work(app)
    state = app.extensions["indox_media"]
    for item in (before, again):
        assert state.catalog.primary.exists(key_of(app, item))
        assert poll(client, item["uuid"])["mirror_status"] == "mirrored"


def test_a_lost_job_is_scheduled_again_by_the_next_poll(
    make_gateway: Callable[..., Flask], redis_db: str
) -> None:
    """The claim survived, the job did not (deleted, or a Redis restarted
    without persistence after the claim was written back)."""
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_db})
    state = app.extensions["indox_media"]
    client = app.test_client()
    item = create_clip(client)
    key = key_of(app, item)
    asset = state.catalog.from_key("local", key)
    Job.fetch(job_id(asset), connection=state.redis).delete()
    healed = poll(client, item["uuid"])
    assert healed["asset_id"] == item["asset_id"]  # the same key
    assert healed["mirror_status"] == "scheduled"
    assert state.queue.rq.count == 1
    work(app)
    assert state.catalog.primary.exists(key)
    assert poll(client, item["uuid"])["mirror_status"] == "mirrored"


def test_failed_jobs_transient_are_retried_by_a_poll_permanent_are_reported(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any
) -> None:
    app = make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": []}
    )
    state = app.extensions["indox_media"]
    client = app.test_client()
    gone, bad = create_clip(client), create_clip(client)
    saved = fake.files.pop(gone["resemble_url"].rsplit("/", 1)[1])  # 404: transient
    fake.files[bad["resemble_url"].rsplit("/", 1)[1]] = (b"<html>", "text/html")
    work(app)
    assert state.queue.failed_count() == 2
    fake.files[gone["resemble_url"].rsplit("/", 1)[1]] = saved
    assert poll(client, gone["uuid"])["mirror_status"] == "scheduled"
    failed = poll(client, bad["uuid"])
    assert failed["mirror_status"] == "failed" and failed["audio_url"] is None
    work(app)
    assert state.catalog.primary.exists(key_of(app, gone))
    assert state.queue.failed_count() == 1  # only the permanent one


@pytest.fixture
def s3_port() -> int:
    return free_port()


def test_inline_audio_waits_in_a_job_while_the_storage_is_down(
    make_gateway: Callable[..., Flask], redis_db: str, s3_port: int, fake: Any
) -> None:
    endpoint = f"http://127.0.0.1:{s3_port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    server.start()
    config = {
        "INDOX_MEDIA_REDIS_URL": redis_db,
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": make_bucket(endpoint, region="auto"),
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
    }
    app = make_gateway(config)
    server.stop()  # the storage is gone
    try:
        response = app.test_client().post(
            f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=ALICE
        )
        assert response.status_code == 200
        body = response.get_json()
        assert body["mirror_status"] == "scheduled" and body["audio_url"]
        audio = base64.b64decode(body["audio_content"])
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        server.start()  # back, with its bucket (moto's state is this process's)
        work(app)
        backend = app.extensions["indox_media"].catalog.primary
        with backend.open(key_of(app, body)) as stored:
            assert stored.read() == audio
    finally:
        server.stop()


def test_inline_audio_with_storage_and_redis_down_is_unmirrored(
    make_gateway: Callable[..., Flask], s3_port: int, redis_aof: RedisProcess
) -> None:
    app = make_gateway(
        {
            "INDOX_MEDIA_REDIS_URL": redis_aof.url,
            "INDOX_MEDIA_STORAGE_BACKEND": "r2",
            "INDOX_MEDIA_R2_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "INDOX_MEDIA_R2_BUCKET": "nowhere",
            "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
            "INDOX_MEDIA_STRIP_INLINE_AUDIO": True,
        }
    )
    redis_aof.kill()
    response = app.test_client().post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=ALICE
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["mirror_status"] == "unmirrored" and body["audio_url"] is None
    assert body["audio_content"]  # the caller's only copy is not stripped


def test_inline_audio_over_the_job_cap_is_unmirrored(
    make_gateway: Callable[..., Flask], redis_db: str, s3_port: int
) -> None:
    app = make_gateway(
        {
            "INDOX_MEDIA_REDIS_URL": redis_db,
            "INDOX_MEDIA_STORAGE_BACKEND": "r2",
            "INDOX_MEDIA_R2_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "INDOX_MEDIA_R2_BUCKET": "nowhere",
            "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
            "INDOX_MEDIA_MAX_INLINE_JOB_BYTES": 10,
        }
    )
    body = (
        app.test_client()
        .post(
            f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=ALICE
        )
        .get_json()
    )
    assert body["mirror_status"] == "unmirrored" and body["audio_url"] is None
    assert app.extensions["indox_media"].queue.count() == 0


def test_erase_forgets_claims_so_a_re_poll_gets_a_new_key_and_mirror(
    make_gateway: Callable[..., Flask], redis_db: str
) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_db})
    state = app.extensions["indox_media"]
    client = app.test_client()
    item = create_clip(client)
    work(app)
    result = erase_user(state, "alice")
    assert result.forgotten_claims == 1 and result.remaining == []
    again = poll(client, item["uuid"])
    assert again["asset_id"] != item["asset_id"]
    assert again["mirror_status"] == "scheduled"
    work(app)
    assert state.catalog.primary.exists(key_of(app, again))
    assert not state.catalog.primary.exists(key_of(app, item))


def test_a_deleted_asset_is_not_healed_back(
    make_gateway: Callable[..., Flask], redis_db: str
) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_db})
    state = app.extensions["indox_media"]
    client = app.test_client()
    item = create_clip(client)
    work(app)
    deleted = client.delete(f"{P}/media/{item['asset_id']}", headers=ALICE)
    assert deleted.status_code == 204
    again = poll(client, item["uuid"])
    assert again["asset_id"] != item["asset_id"]
    assert again["mirror_status"] == "scheduled"
    assert not state.catalog.primary.exists(key_of(app, item))


def test_erase_with_redis_down_is_a_typed_error_and_deletes_nothing(
    make_gateway: Callable[..., Flask], redis_aof: RedisProcess
) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_aof.url})
    state = app.extensions["indox_media"]
    item = create_clip(app.test_client())
    with app.app_context():
        work(app)
    redis_aof.kill()
    with pytest.raises(QueueError, match="Redis failed"):
        erase_user(state, "alice")
    assert state.catalog.primary.exists(key_of(app, item))


def test_doctor_warns_when_the_queue_redis_does_not_persist(
    make_gateway: Callable[..., Flask], redis_aof: RedisProcess
) -> None:
    state = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_aof.url}).extensions[
        "indox_media"
    ]

    def persistence() -> tuple[str, str]:
        found = next(c for c in checks(state) if c.name == "redis persistence")
        return found.status, found.detail

    assert persistence() == ("ok", "append-only file on")
    redis = Redis.from_url(redis_aof.url)
    redis.config_set("appendonly", "no")
    assert persistence() == ("warn", "neither AOF nor RDB is on")
    redis.config_set("save", "60 1")  # snapshots go to the test's folder
    assert persistence()[0] == "ok"
    redis.close()
