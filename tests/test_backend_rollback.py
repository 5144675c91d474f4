"""A rollback without a restart, with real processes: two gateway processes
(the example app under ``flask run``) and an RQ worker, configured by the
environment alone (R2 chosen at start, S3 configured too, both buckets on moto
in server mode), one redis-server, and ``flask indox-media backend use | clear``
run as a command of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from flask_indox_media.testing import free_port, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY
from tests.conftest import make_bucket

ROOT = Path(__file__).resolve().parents[1]
P = "/api/v1/resemble"
ALICE = {"Authorization": "Bearer key-a"}
#: Every process follows a switch within this (the refresh is 2 s).
SWITCH_SECONDS = 5.0
APP = ["--app", "example_app:create_app"]


def until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``check`` until it gives something true, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def env(upstream: str, redis_db: str, moto_endpoint: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INDOX_MEDIA_", "FLASK_"))
        and k not in {"STORAGE_BACKEND", "API_KEYS", "SECRET_KEY"}
    }
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "rollback-test-secret",
        "API_KEYS": "key-a:alice",
        "STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_REDIS_URL": redis_db,
        "INDOX_MEDIA_R2_ENDPOINT_URL": moto_endpoint,
        "INDOX_MEDIA_R2_BUCKET": make_bucket(moto_endpoint, region="auto"),
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
        "INDOX_MEDIA_S3_ENDPOINT_URL": moto_endpoint,
        "INDOX_MEDIA_S3_BUCKET": make_bucket(moto_endpoint),
        "INDOX_MEDIA_S3_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": "testing",
        "INDOX_MEDIA_RESEMBLE_API_KEY": DEFAULT_KEY,
        "INDOX_MEDIA_RESEMBLE_BASE_URL": upstream + "/api/",
        "INDOX_MEDIA_RESEMBLE_SYNTH_URL": upstream + "/",
        "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + upstream.rsplit(":", 1)[1],
    }


@contextmanager
def gateway_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """The example app served by a process of its own; yields its URL."""
    port = free_port()
    argv = [sys.executable, "-m", "flask", *APP, "run", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return requests.get(url + "/", timeout=2) is not None
        except requests.ConnectionError:
            return False

    try:
        until(up, 60, f"the gateway on {port}")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def command(env: dict[str, str], *args: str) -> str:
    """``flask indox-media ARGS`` as a process of its own; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", *APP, "indox-media", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def upload(gateway: str) -> dict[str, Any]:
    response = requests.post(
        f"{gateway}{P}/uploads",
        files={"file": ("take.wav", wav_bytes(0.1), "audio/wav")},
        headers=ALICE,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def create_clip(gateway: str) -> dict[str, Any]:
    response = requests.post(
        f"{gateway}{P}/projects/p/clips",
        json={"voice_uuid": "v", "body": "x"},
        headers=ALICE,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["item"]
    return item


class Buckets:
    """Which bucket holds a key."""

    def __init__(self, env: dict[str, str]) -> None:
        self.names = {
            "r2": env["INDOX_MEDIA_R2_BUCKET"],
            "s3": env["INDOX_MEDIA_S3_BUCKET"],
        }
        self.client = boto3.client(
            "s3",
            endpoint_url=env["INDOX_MEDIA_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def holding(self, key: str) -> list[str]:
        found = []
        for name, bucket in self.names.items():
            try:
                self.client.head_object(Bucket=bucket, Key=key)
                found.append(name)
            except ClientError:
                pass
        return found


def key_of(item: dict[str, Any]) -> str:
    """The object key in a presigned audio_url (path style: /bucket/key)."""
    path = item["audio_url"].split("?", 1)[0].split("://", 1)[1]
    return path.split("/", 2)[2]


def lands_in(gateway: str, buckets: Buckets, name: str) -> Callable[[], bool]:
    def check() -> bool:
        return buckets.holding(upload(gateway)["key"]) == [name]

    return check


def test_rollback_without_a_restart(
    env: dict[str, str], tmp_path: Path, fake: Any
) -> None:
    buckets = Buckets(env)
    with (
        gateway_process(env, tmp_path / "a.log") as a,
        gateway_process(env, tmp_path / "b.log") as b,
    ):
        before = upload(a)
        assert buckets.holding(before["key"]) == ["r2"]
        # Enqueued before the switch, run after it: no worker runs yet.
        queued = create_clip(b)
        assert buckets.holding(key_of(queued)) == []

        assert "new assets go to s3" in command(env, "backend", "use", "s3")
        for gateway in (a, b):
            until(lands_in(gateway, buckets, "s3"), SWITCH_SECONDS, f"{gateway} on s3")
            assert buckets.holding(upload(gateway)["key"]) == ["s3"]
        shown = command(env, "backend", "show")
        assert "new assets go to: s3 (chosen by the runtime override)" in shown
        assert "start-up choice: r2 (chosen by the STORAGE_BACKEND" in shown

        # The upload made before the switch still resolves, from either gateway.
        for gateway in (a, b):
            got = requests.get(
                f"{gateway}{P}/media/{before['asset_id']}", headers=ALICE, timeout=10
            )
            assert got.status_code == 200 and got.json()["status"] == "mirrored"
            audio = requests.get(got.json()["audio_url"], timeout=10)
            assert audio.status_code == 200
            assert audio.content == wav_bytes(0.1)

        # The worker runs the job queued before the switch, and one queued
        # after: each writes where its asset's claim says.
        after = create_clip(a)
        command(env, "worker", "--burst", "--worker-class", "rq.SimpleWorker")
        assert buckets.holding(key_of(queued)) == ["r2"]
        assert buckets.holding(key_of(after)) == ["s3"]
        for item in (queued, after):
            audio = requests.get(item["audio_url"], timeout=10)
            assert audio.status_code == 200
            assert (
                audio.content == fake.files[item["resemble_url"].rsplit("/", 1)[1]][0]
            )

        assert "override removed" in command(env, "backend", "clear")
        for gateway in (a, b):
            until(lands_in(gateway, buckets, "r2"), SWITCH_SECONDS, f"{gateway} on r2")
