from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from hypothesis import settings
from moto import mock_aws
from moto.server import ThreadedMotoServer

from flask_indox_media import IndoxMedia
from flask_indox_media.testing import (
    RGW,
    free_port,
    redis_server,
    rgw_available,
    rgw_server,
    serve_wsgi,
)

# No per-example deadline: it is a timed assertion, and these 2-core machines
# are shared (a loaded moment is not a bug).
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")

#: The shared sample files (CI checks out ../shared beside the repository).
AUDIO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio"

os.environ.setdefault("AWS_CONFIG_FILE", "/nonexistent")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
os.environ.pop("STORAGE_BACKEND", None)
for _name in [k for k in os.environ if k.startswith("INDOX_MEDIA_")]:
    del os.environ[_name]

R2_ENDPOINT = "https://acct.r2.cloudflarestorage.com"
S3_CREDS = {
    "INDOX_MEDIA_S3_ACCESS_KEY_ID": "testing",
    "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": "testing",
}


class Clock:
    """An injected clock: tests move time, never sleep."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 5, 1, 10, 15, 0, tzinfo=UTC))


@pytest.fixture
def make_app(tmp_path: Path, clock: Clock) -> Callable[..., Flask]:
    """Build an app plus extension from a config dict."""

    def factory(config: dict[str, Any] | None = None, **kwargs: Any) -> Flask:
        app = Flask("test_app", instance_path=str(tmp_path / "instance"))
        app.config.update(SECRET_KEY="test-secret", TESTING=True)
        app.config.update(config or {})
        media = IndoxMedia(clock=clock, **kwargs)
        media.init_app(app)
        return app

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process mock."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on a loopback port: a real S3 API over HTTP."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


_bucket_counter = iter(range(1_000_000))


def make_bucket(endpoint: str | None, region: str = "us-east-1") -> str:
    """A fresh bucket (region ``auto`` needs moto's LocationConstraint)."""
    name = f"bucket-{next(_bucket_counter)}-{os.getpid()}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )
    return name


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of the suite's own on a free port (nothing shared)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run ./scripts/test, which installs it"
        )
    with redis_server(binary) as url:
        yield url


@pytest.fixture(scope="session")
def rgw() -> Iterator[RGW]:
    """A real S3 server of the suite's own (Ceph's RADOS Gateway on a throwaway
    single-node cluster), one per session; buckets come from ``rgw.create_bucket``."""
    if not rgw_available():
        pytest.fail(
            "Ceph's radosgw is not installed: run ./scripts/test, which installs it"
        )
    with rgw_server() as server:
        yield server


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """The suite's own Redis, flushed before and after the test."""
    from redis import Redis

    conn = Redis.from_url(redis_url)
    conn.flushall()
    try:
        yield redis_url
    finally:
        conn.flushall()
        conn.close()


@pytest.fixture
def fake() -> Any:
    from flask_indox_media.testing import FakeResemble

    return FakeResemble()


@pytest.fixture
def upstream(fake: Any) -> Iterator[str]:
    """The fake Resemble, over real HTTP on a loopback port."""
    from flask_indox_media.testing import serve_wsgi

    with serve_wsgi(fake.app) as url:
        yield url


API_KEYS = {"key-a": "alice", "key-b": "bob"}
ALICE = {"Authorization": "Bearer key-a"}
BOB = {"Authorization": "Bearer key-b"}


def gateway_config(upstream: str) -> dict[str, Any]:
    from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

    return {
        "SECRET_KEY": "test-secret",
        "API_KEYS": API_KEYS,
        "INDOX_MEDIA_RESEMBLE_API_KEY": DEFAULT_KEY,
        "INDOX_MEDIA_RESEMBLE_BASE_URL": upstream + "/api/",
        "INDOX_MEDIA_RESEMBLE_SYNTH_URL": upstream + "/",
        "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + upstream.rsplit(":", 1)[1],
    }


@pytest.fixture
def make_gateway(tmp_path: Path, upstream: str) -> Callable[..., Flask]:
    """The example app in front of the fake upstream (local backend by default)."""
    from example_app import create_app

    def factory(config: dict[str, Any] | None = None) -> Flask:
        return create_app(
            {
                **gateway_config(upstream),
                "INDOX_MEDIA_LOCAL_ROOT": str(tmp_path / "media"),
                "TESTING": True,
                **(config or {}),
            }
        )

    return factory


@pytest.fixture
def gateway(make_gateway: Callable[..., Flask]) -> Flask:
    return make_gateway()


def work(app: Flask) -> None:
    """Run the app's queue to empty with a real RQ worker (in this process)."""
    from rq import SimpleWorker

    state = app.extensions["indox_media"]
    with app.app_context():
        SimpleWorker([state.queue.rq], connection=state.redis).work(burst=True)


def r2_config(endpoint: str) -> dict[str, Any]:
    """R2 as a fresh bucket on a local S3-compatible server."""
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": make_bucket(endpoint, region="auto"),
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
    }


def rgw_config(rgw: RGW, backend: str = "r2") -> dict[str, Any]:
    """The ``r2`` or ``s3`` backend on a fresh bucket of an RGW, through the
    endpoint override each backend reads (``INDOX_MEDIA_R2_ENDPOINT_URL``,
    ``INDOX_MEDIA_S3_ENDPOINT_URL``)."""
    name = backend.upper()
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": backend,
        f"INDOX_MEDIA_{name}_ENDPOINT_URL": rgw.endpoint,
        f"INDOX_MEDIA_{name}_BUCKET": rgw.create_bucket(),
        f"INDOX_MEDIA_{name}_ACCESS_KEY_ID": rgw.access_key,
        f"INDOX_MEDIA_{name}_SECRET_ACCESS_KEY": rgw.secret_key,
    }


def create_clip(client: Any, headers: dict[str, str] = ALICE) -> dict[str, Any]:
    """Create a clip through the gateway (the fake answers with its audio URL);
    returns its ``item``."""
    response = client.post(
        "/api/v1/resemble/projects/p/clips",
        json={"voice_uuid": "v", "body": "x"},
        headers=headers,
    )
    item: dict[str, Any] = response.get_json()["item"]
    return item


@pytest.fixture
def r2_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """R2 on moto's in-process mock (on for the whole test)."""
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", R2_ENDPOINT)
    with mock_aws():
        yield r2_backend(R2_ENDPOINT)


def r2_backend(endpoint: str) -> Any:
    """An R2 backend on a fresh bucket at ``endpoint`` (an S3-compatible server)."""
    from flask_indox_media.storage.r2 import R2Backend

    return R2Backend(
        "r2",
        bucket=make_bucket(endpoint, region="auto"),
        region="auto",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        addressing_style="path",
    )


class Receiver:
    """The caller's own callback endpoint."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        self.payloads.append(
            json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    with serve_wsgi(app) as url:
        yield app, url
