"""The operators' commands, through ``app.test_cli_runner()``, against moto in
server mode (two buckets standing for R2 and S3) and the local backend."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
import requests
from flask import Flask

from flask_indox_media import IndoxMediaError, jobs
from flask_indox_media.testing import wav_bytes
from tests.conftest import ALICE, create_clip, make_bucket, r2_config, work

P = "/api/v1/resemble"


def two_buckets(endpoint: str) -> dict[str, Any]:
    return {
        **r2_config(endpoint),
        "INDOX_MEDIA_S3_BUCKET": make_bucket(endpoint),
        "INDOX_MEDIA_S3_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_S3_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture
def buckets(moto_endpoint: str) -> dict[str, Any]:
    return two_buckets(moto_endpoint)


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["indox-media", *args])


def put(app: Flask, backend: str, key: str, data: bytes) -> None:
    app.extensions["indox_media"].catalog.backends[backend].put(
        key, io.BytesIO(data), content_type="audio/wav"
    )


def keys(app: Flask, backend: str, prefix: str = "") -> list[str]:
    return [
        i.key
        for i in app.extensions["indox_media"]
        .catalog.backends[backend]
        .list_objects(prefix)
    ]


def raw_s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_lifecycle_show_plan_apply(
    make_app: Callable[..., Flask], buckets: dict[str, Any], moto_endpoint: str
) -> None:
    app = make_app(buckets)
    s3 = raw_s3(moto_endpoint)
    foreign = {
        "ID": "team-logs",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 90},
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket=buckets["INDOX_MEDIA_R2_BUCKET"],
        LifecycleConfiguration={"Rules": [foreign]},
    )
    plan = run(app, "lifecycle", "plan", "--backend", "r2")
    assert plan.exit_code == 0
    assert (
        "add indox-media-tts" in plan.output
        and "keep team-logs (not ours)" in plan.output
    )
    assert (
        "voice_recordings" not in plan.output
        and "indox-media-voices" not in plan.output
    )
    dry = run(app, "lifecycle", "apply", "--backend", "r2", "--dry-run")
    assert "would write" in dry.output
    rules = s3.get_bucket_lifecycle_configuration(
        Bucket=buckets["INDOX_MEDIA_R2_BUCKET"]
    )["Rules"]
    assert [r["ID"] for r in rules] == ["team-logs"]
    assert run(app, "lifecycle", "apply").exit_code == 0  # both buckets
    for bucket in (buckets["INDOX_MEDIA_R2_BUCKET"], buckets["INDOX_MEDIA_S3_BUCKET"]):
        rules = {
            r["ID"]: r
            for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        }
        expiring = {
            r["Filter"]["Prefix"]: r["Expiration"]["Days"]
            for r in rules.values()
            if "Expiration" in r
        }
        expected = {
            "tts/": 7,
            "audio-jobs/": 7,
            "watermark/": 7,
            "voice-design/": 14,
            "stt-input/": 30,
            "uploads/": 30,
        }
        assert {p: d for p, d in expiring.items() if p != "logs/"} == expected
        assert "" not in expiring  # never a bucket-wide expiry
        assert rules["indox-media-abort-incomplete-multipart"][
            "AbortIncompleteMultipartUpload"
        ] == {"DaysAfterInitiation": 1}
        assert all(r["Status"] == "Enabled" for r in rules.values())
    assert "team-logs" in {
        r["ID"]
        for r in s3.get_bucket_lifecycle_configuration(
            Bucket=buckets["INDOX_MEDIA_R2_BUCKET"]
        )["Rules"]
    }
    again = run(app, "lifecycle", "plan")
    assert again.exit_code == 0 and again.output.count("match the retention table") == 2
    shown = run(app, "lifecycle", "show", "--backend", "s3")
    assert '"indox-media-tts"' in shown.output


def test_lifecycle_changes_follow_the_table(
    make_app: Callable[..., Flask], buckets: dict[str, Any]
) -> None:
    assert (
        run(make_app(buckets), "lifecycle", "apply", "--backend", "r2").exit_code == 0
    )
    changed = make_app(
        {**buckets, "INDOX_MEDIA_RETENTION": {"tts": 3, "uploads": None}}
    )
    plan = run(changed, "lifecycle", "plan", "--backend", "r2").output
    assert "change indox-media-tts" in plan and "remove indox-media-uploads" in plan


def test_bucket_rules_need_a_bucket(make_app: Callable[..., Flask]) -> None:
    result = run(make_app(), "lifecycle", "plan")
    assert (
        result.exit_code != 0 and "local backend has no bucket rules" in result.output
    )


def test_cors(
    make_app: Callable[..., Flask], buckets: dict[str, Any], moto_endpoint: str
) -> None:
    app = make_app(
        {
            **buckets,
            "INDOX_MEDIA_CORS_ORIGINS": "https://app.example.com,https://www.example.com",
        }
    )
    assert (
        "add indox-media-playback" in run(app, "cors", "plan", "--backend", "r2").output
    )
    assert run(app, "cors", "apply", "--backend", "r2").exit_code == 0
    rules = raw_s3(moto_endpoint).get_bucket_cors(
        Bucket=buckets["INDOX_MEDIA_R2_BUCKET"]
    )["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [
        "https://app.example.com",
        "https://www.example.com",
    ]
    assert sorted(rules[0]["AllowedMethods"]) == ["GET", "HEAD"]
    assert set(rules[0]["ExposeHeaders"]) == {
        "Content-Length",
        "Content-Range",
        "Accept-Ranges",
        "ETag",
    }
    assert (
        "CORS rules match INDOX_MEDIA_CORS_ORIGINS"
        in run(app, "cors", "plan", "--backend", "r2").output
    )


def test_sweep(make_app: Callable[..., Flask], clock: Any) -> None:
    app = make_app()
    now = clock.now
    old = (now - timedelta(days=8)).strftime("%Y/%m/%d/%H%M%S")
    recent = (now - timedelta(days=6)).strftime("%Y/%m/%d/%H%M%S")
    ancient = (now - timedelta(days=400)).strftime("%Y/%m/%d/%H%M%S")
    for key in (
        f"tts/u/{old}-a.wav",
        f"tts/u/{recent}-b.wav",
        f"uploads/u/{old}-c.wav",
        f"voices/u/{ancient}-d.wav",
        "tts/not-our-shape.wav",
    ):
        put(app, "local", key, b"x")
    dry = run(app, "sweep", "--dry-run")
    assert (
        dry.exit_code == 0
        and "local tts/: 1 expired (not deleted: dry run)" in dry.output
    )
    assert len(keys(app, "local")) == 5
    swept = run(app, "sweep")
    assert "total: 1 expired" in swept.output
    assert sorted(keys(app, "local")) == sorted(
        [
            f"tts/u/{recent}-b.wav",
            f"uploads/u/{old}-c.wav",
            f"voices/u/{ancient}-d.wav",
            "tts/not-our-shape.wav",
        ]
    )
    assert "total: 0 expired" in run(app, "sweep").output  # re-run: nothing left to do


def test_erase_user_everywhere(
    make_gateway: Callable[..., Flask],
    buckets: dict[str, Any],
    redis_db: str,
    fake: Any,
) -> None:
    app = make_gateway({**buckets, "INDOX_MEDIA_REDIS_URL": redis_db})
    client = app.test_client()
    for cls in ("tts", "voices", "voice_recordings", "uploads"):
        state = app.extensions["indox_media"]
        for backend in ("r2", "s3"):
            for user in ("alice", "bob"):
                asset = state.catalog.new(cls, user, "wav")
                put(app, backend, asset.key, f"{user}-{cls}-{backend}".encode())
    bob_before = {
        b: {
            k: app.extensions["indox_media"].catalog.backends[b].open(k).read()
            for k in keys(app, b)
            if "/bob/" in k
        }
        for b in ("r2", "s3")
    }
    create_clip(client)
    assert app.extensions["indox_media"].queue.rq.count == 1  # alice's pending mirror
    dry = run(app, "erase-user", "alice", "--dry-run")
    assert dry.exit_code == 0 and "total: would delete 8" in dry.output
    result = run(app, "erase-user", "alice")
    assert result.exit_code == 0, result.output
    assert "r2 voice-recordings/alice/: deleted 1" in result.output
    assert "s3 voices/alice/: deleted 1" in result.output
    assert "cancelled 1 pending job(s)" in result.output and "verified" in result.output
    work(app)  # the cancelled mirror does not bring anything back
    for backend in ("r2", "s3"):
        assert [k for k in keys(app, backend) if "/alice/" in k] == []
        assert {
            k: app.extensions["indox_media"].catalog.backends[backend].open(k).read()
            for k in keys(app, backend)
            if "/bob/" in k
        } == bob_before[backend]
    again = run(app, "erase-user", "alice")
    assert again.exit_code == 0 and "total: deleted 0" in again.output
    assert run(app, "erase-user", "../x").exit_code != 0


def test_erase_user_as_a_job(make_gateway: Callable[..., Flask], redis_db: str) -> None:
    app = make_gateway({"INDOX_MEDIA_REDIS_URL": redis_db})
    put(app, "local", "voices/carol/2026/01/01/000000-r.wav", b"x")
    job = app.extensions["indox_media"].queue.rq.enqueue(jobs.erase_user, "carol")
    work(app)
    job.refresh()
    assert job.return_value() == {
        "deleted": 1,
        "cancelled_jobs": 0,
        "forgotten_claims": 0,
        "remaining": 0,
    }
    assert keys(app, "local") == []


def test_export_user(make_app: Callable[..., Flask], tmp_path: Any) -> None:
    app = make_app()
    state = app.extensions["indox_media"]
    asset, _ = state.catalog.store(
        "voice_recordings",
        "dave",
        io.BytesIO(wav_bytes(0.1)),
        content_type="audio/wav",
        extension="wav",
    )
    state.catalog.store(
        "tts", "erin", io.BytesIO(b"RIFF"), content_type="audio/wav", extension="wav"
    )
    out = tmp_path / "dave.json"
    assert run(app, "export-user", "dave", "--output", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["user_id"] == "dave" and len(document["assets"]) == 1
    entry = document["assets"][0]
    assert (
        entry["key"] == asset.key
        and entry["expires_at"] is None
        and entry["asset_class"] == "voice_recordings"
    )
    assert (
        entry["size_bytes"] == len(wav_bytes(0.1))
        and entry["content_type"] == "audio/wav"
    )
    with app.test_client().get(entry["url"]) as response:
        assert response.status_code == 200


def test_backfill(make_app: Callable[..., Flask], buckets: dict[str, Any]) -> None:
    app = make_app({**buckets, "INDOX_MEDIA_STORAGE_BACKEND": "s3"})
    s3 = app.extensions["indox_media"].catalog.backends["s3"]
    s3.put(
        "tts/u/2026/01/01/000000-old.wav",
        io.BytesIO(b"old"),
        content_type="audio/wav",
        metadata={"user-id": "u"},
    )
    for i in range(5):
        s3.put(
            f"tts/u/2026/03/0{i + 1}/000000-r{i}.mp3",
            io.BytesIO(b"new%d" % i),
            content_type="audio/mpeg",
            metadata={"user-id": "u", "source-url": "https://app.resemble.ai/x"},
        )
    put(app, "r2", "tts/u/2026/03/01/000000-r0.mp3", b"new0")  # already there
    dry = run(app, "backfill", "--from", "s3", "--to", "r2", "--dry-run")
    assert "would copy 5, skipped 1" in dry.output and len(keys(app, "r2")) == 1
    result = run(app, "backfill", "--from", "s3", "--to", "r2", "--since", "2026-02-01")
    assert result.exit_code == 0 and "copied 4, skipped 2, failed 0" in result.output
    r2 = app.extensions["indox_media"].catalog.backends["r2"]
    info = r2.head("tts/u/2026/03/05/000000-r4.mp3")
    assert info is not None and info.content_type == "audio/mpeg"
    assert info.metadata == {"user-id": "u", "source-url": "https://app.resemble.ai/x"}
    assert r2.open("tts/u/2026/03/05/000000-r4.mp3").read() == b"new4"
    assert (
        "copied 1, skipped 5"
        in run(app, "backfill", "--from", "s3", "--to", "r2").output
    )
    assert (
        "copied 0, skipped 6"
        in run(app, "backfill", "--from", "s3", "--to", "r2").output
    )
    assert run(app, "backfill", "--from", "gcs", "--to", "r2").exit_code != 0
    assert (
        run(app, "backfill", "--from", "s3", "--to", "r2", "--since", "May 1").exit_code
        != 0
    )


def test_dual_write(
    make_gateway: Callable[..., Flask], buckets: dict[str, Any]
) -> None:
    app = make_gateway({**buckets, "INDOX_MEDIA_MIRROR_BACKENDS": "s3"})
    client = app.test_client()
    body = client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav")},
        headers=ALICE,
    ).get_json()
    clip = create_clip(client)
    assert body["key"] in keys(app, "r2") and body["key"] in keys(app, "s3")
    assert len(keys(app, "s3", "tts/")) == 1 and clip["asset_class"] == "tts"
    assert (
        client.delete(f"{P}/media/{body['asset_id']}", headers=ALICE).status_code == 204
    )
    assert body["key"] not in keys(app, "r2") + keys(app, "s3")  # deletes go to all


def test_rollback_keeps_links_both_ways(
    make_gateway: Callable[..., Flask],
    buckets: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def start(backend: str) -> Any:
        monkeypatch.setenv(
            "STORAGE_BACKEND", backend
        )  # the operators' switch, then a restart
        return make_gateway(
            {**buckets, "INDOX_MEDIA_STORAGE_BACKEND": None}
        ).test_client()

    def upload(client: Any) -> dict[str, Any]:
        data = {"file": (io.BytesIO(wav_bytes(0.1)), "a.wav")}
        return client.post(f"{P}/uploads", data=data, headers=ALICE).get_json()

    on_r2 = upload(start("r2"))
    rolled_back = start("s3")
    on_s3 = upload(rolled_back)
    assert f"/{buckets['INDOX_MEDIA_S3_BUCKET']}/" in on_s3["audio_url"]
    for client in (rolled_back, start("r2")):
        for asset in (on_r2, on_s3):
            got = client.get(f"{P}/media/{asset['asset_id']}", headers=ALICE).get_json()
            assert got["status"] == "mirrored" and got["key"] == asset["key"]
            link = client.get(f"{P}/media/{asset['asset_id']}/audio", headers=ALICE)
            assert link.status_code == 302
            assert requests.get(
                link.headers["Location"], timeout=10
            ).content == wav_bytes(0.1)


def test_doctor(
    make_gateway: Callable[..., Flask], buckets: dict[str, Any], redis_db: str
) -> None:
    from rq import Worker

    app = make_gateway(
        {
            **buckets,
            "INDOX_MEDIA_REDIS_URL": redis_db,
            "INDOX_MEDIA_CORS_ORIGINS": "https://app.example",
        }
    )
    assert run(app, "lifecycle", "apply").exit_code == 0
    first = run(app, "doctor")
    assert "[FAIL] r2: CORS: differs from INDOX_MEDIA_CORS_ORIGINS" in first.output
    assert run(app, "cors", "apply").exit_code == 0
    assert first.exit_code == 1
    assert (
        "[FAIL] workers: none" in first.output
        and "-> run: flask indox-media worker" in first.output
    )
    state = app.extensions["indox_media"]
    worker = Worker([state.queue.rq], connection=state.redis)
    worker.register_birth()
    try:
        result = run(app, "doctor")
    finally:
        worker.register_death()
    assert result.exit_code == 0, result.output
    for line in (
        "[  ok] r2: bucket",
        "[  ok] s3: round trip",
        "[  ok] r2: lifecycle: matches the retention table",
        "[  ok] r2: CORS: matches INDOX_MEDIA_CORS_ORIGINS",
        "[  ok] workers: 1 alive",
        "[  ok] upstream",
    ):
        assert line in result.output
    assert keys(app, "r2", "indox-media-doctor/") == []


def test_doctor_reports_a_missing_bucket(
    make_gateway: Callable[..., Flask], buckets: dict[str, Any]
) -> None:
    app = make_gateway({**buckets, "INDOX_MEDIA_S3_BUCKET": "no-such-bucket-here"})
    result = run(app, "doctor")
    assert result.exit_code == 1
    assert (
        "[FAIL] s3: bucket" in result.output
        and "-> check INDOX_MEDIA_S3_BUCKET" in result.output
    )
    assert "[warn] queue" in result.output


def test_erase_and_export_with_redis_or_storage_down_are_clean_errors(
    make_app: Callable[..., Flask],
) -> None:
    from flask_indox_media.testing import free_port

    dead = f"127.0.0.1:{free_port()}"
    no_redis = make_app({"INDOX_MEDIA_REDIS_URL": f"redis://{dead}/0"})
    no_storage = make_app(
        {
            "INDOX_MEDIA_R2_ENDPOINT_URL": f"http://{dead}",
            "INDOX_MEDIA_R2_BUCKET": "gone",
            "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
        }
    )
    for app, command in (
        (no_redis, "erase-user"),
        (no_storage, "erase-user"),
        (no_storage, "export-user"),
    ):
        result = app.test_cli_runner().invoke(args=["indox-media", command, "alice"])
        assert result.exit_code == 1, result.output
        assert "Error:" in result.output and "Traceback" not in result.output
        assert not isinstance(result.exception, IndoxMediaError)
