"""Streaming synthesis (``POST /tts/stream`` and the SDK's ``POST /stream``):
relayed as it arrives, teed to a ``tts`` object, and what becomes of that
object when the caller leaves or the upstream breaks. The gateway is served
over HTTP; R2 is moto in server mode, so incomplete multipart uploads are
visible."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from flask import Flask, Response, request

from flask_indox_media.storage.s3_config import MiB
from flask_indox_media.testing import serve_wsgi, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY
from tests.conftest import ALICE, r2_config

P = "/api/v1/resemble"
ASSET_HEADERS = ("X-Asset-Id", "X-Audio-Url", "X-Playback-Url", "X-Expires-At")


class PacedUpstream:
    """Resemble's streaming endpoint, paced by the test: ``body`` goes out in
    ``chunk``-byte pieces; after ``pause_after`` pieces it waits for
    :attr:`resume`; after ``break_after`` pieces it drops the connection."""

    def __init__(
        self,
        body: bytes,
        *,
        chunk: int = 4096,
        pause_after: int | None = None,
        break_after: int | None = None,
    ) -> None:
        self.body = body
        self.resume = threading.Event()
        self.paused = threading.Event()
        self.finished = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.app = Flask("paced_upstream")

        @self.app.post("/stream")
        def stream() -> Response:
            self.requests.append(
                {"json": request.get_json(), "headers": dict(request.headers)}
            )

            def pieces() -> Iterator[bytes]:
                for index, start in enumerate(range(0, len(body), chunk)):
                    if index == pause_after:
                        self.paused.set()
                        assert self.resume.wait(10)
                    if index == break_after:
                        raise ConnectionAbortedError("the upstream broke off")
                    yield body[start : start + chunk]
                self.finished.set()

            return Response(pieces(), content_type="audio/wav")


def _objects(client: Any, bucket: str) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listed
    }


def _incomplete(client: Any, bucket: str) -> list[Any]:
    uploads: list[Any] = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def r2(moto_endpoint: str) -> dict[str, Any]:
    """R2 on moto server, parts of 5 MiB (the least S3 takes)."""
    return {**r2_config(moto_endpoint), "INDOX_MEDIA_MULTIPART_CHUNKSIZE": 5 * MiB}


@pytest.fixture
def s3(r2: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=r2["INDOX_MEDIA_R2_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def paced_gateway(
    make_gateway: Callable[..., Flask],
    upstream: PacedUpstream,
    config: dict[str, Any],
) -> Iterator[tuple[str, str]]:
    """The gateway, served, with ``upstream`` as its synthesis server; yields
    the gateway's URL and the upstream's."""
    with serve_wsgi(upstream.app) as up:
        app = make_gateway({**config, "INDOX_MEDIA_RESEMBLE_SYNTH_URL": up + "/"})
        with serve_wsgi(app) as gw:
            yield gw, up


def test_the_stream_is_relayed_as_it_arrives_and_stored(
    make_gateway: Callable[..., Flask], r2: dict[str, Any], s3: Any
) -> None:
    body = wav_bytes(0.5, rate=22050)
    upstream = PacedUpstream(body, pause_after=2)
    for gw, _ in paced_gateway(make_gateway, upstream, r2):
        with requests.post(
            gw + P + "/tts/stream",
            json={"voice_uuid": "v1", "text": "Hello", "sample_rate": 22050},
            headers=ALICE,
            stream=True,
            timeout=10,
        ) as response:
            # The upstream is holding back all but two pieces: the headers and
            # the first bytes are already here, so nothing waited for the end.
            assert upstream.paused.wait(10) and not upstream.finished.is_set()
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "audio/wav"
            assert response.headers["Transfer-Encoding"] == "chunked"
            assert all(h in response.headers for h in ASSET_HEADERS)
            assert response.headers["X-Asset-Class"] == "tts"
            first = response.raw.read(8192)
            assert first == body[:8192]
            upstream.resume.set()
            got = first + response.raw.read()
        played = requests.get(response.headers["X-Playback-Url"], timeout=10)
        assert played.content == body  # a redirect to the object
    assert got == body
    sent = upstream.requests[0]
    assert sent["json"] == {
        "voice_uuid": "v1",
        "data": "Hello",
        "sample_rate": 22050,
        "precision": "PCM_16",
    }
    assert sent["headers"]["X-Access-Token"] == DEFAULT_KEY  # the gateway's
    assert "Authorization" not in sent["headers"]
    assert sent["headers"]["Accept-Encoding"] == "identity"
    # Committed before the caller saw the end of the body.
    stored = requests.get(response.headers["X-Audio-Url"], timeout=10)
    assert stored.status_code == 200 and stored.content == body
    assert stored.headers["Content-Type"] == "audio/wav"
    (key,) = _objects(s3, r2["INDOX_MEDIA_R2_BUCKET"])
    assert key.startswith("tts/alice/") and key.endswith(".wav")


def test_an_object_over_one_part_is_a_multipart_upload(
    make_gateway: Callable[..., Flask], r2: dict[str, Any], s3: Any
) -> None:
    body = b"RIFF" + bytes(range(256)) * (4 * 1024 * 12)  # 12 MiB: 3 parts
    upstream = PacedUpstream(body, chunk=256 * 1024)
    for gw, _ in paced_gateway(make_gateway, upstream, r2):
        got = requests.post(
            gw + P + "/tts/stream",
            json={"voice_uuid": "v", "text": "long"},
            headers=ALICE,
            timeout=30,
        )
    assert got.content == body
    assert list(_objects(s3, r2["INDOX_MEDIA_R2_BUCKET"]).values()) == [body]
    assert _incomplete(s3, r2["INDOX_MEDIA_R2_BUCKET"]) == []


def _read_then_hang_up(url: str, nbytes: int) -> tuple[dict[str, str], bytes]:
    """A real HTTP client that reads the headers and ``nbytes`` of the body,
    then closes its socket."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "POST",
        P + "/tts/stream",
        body=json.dumps({"voice_uuid": "v", "text": "bye"}),
        headers={**ALICE, "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    headers = dict(response.getheaders())
    data = response.read(nbytes)
    response.close()
    conn.close()
    return headers, data


def test_a_caller_who_hangs_up_still_leaves_a_whole_object(
    make_gateway: Callable[..., Flask],
    r2: dict[str, Any],
    s3: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The decision (docs/gateway.rst): the rest is read from Resemble and the
    object completed, so the links sent as headers keep their promise."""
    body = b"RIFF" + bytes(range(256)) * (4 * 1024 * 7)  # 7 MiB: 2 parts
    upstream = PacedUpstream(body, chunk=64 * 1024, pause_after=3)
    bucket = r2["INDOX_MEDIA_R2_BUCKET"]
    caplog.set_level(logging.INFO, "flask_indox_media")
    for gw, _ in paced_gateway(make_gateway, upstream, r2):
        headers, data = _read_then_hang_up(gw, 3 * 64 * 1024)
        assert data == body[: 3 * 64 * 1024]
        assert _objects(s3, bucket) == {}
        upstream.resume.set()  # the gateway's next writes find the socket closed
        _until(lambda: bool(_objects(s3, bucket)))
    assert upstream.finished.is_set()
    assert "the caller left" in caplog.text  # the server noticed, and closed early
    assert list(_objects(s3, bucket).values()) == [body]
    assert _incomplete(s3, bucket) == []
    assert requests.get(headers["X-Audio-Url"], timeout=10).content == body


def test_a_broken_upstream_leaves_no_object_and_no_parts(
    make_gateway: Callable[..., Flask], r2: dict[str, Any], s3: Any
) -> None:
    body = b"RIFF" + bytes(range(256)) * (4 * 1024 * 7)  # 7 MiB
    # Broken after 6 MiB: one part was sent, so the upload must be aborted.
    upstream = PacedUpstream(body, chunk=MiB, break_after=6)
    bucket = r2["INDOX_MEDIA_R2_BUCKET"]
    for gw, _ in paced_gateway(make_gateway, upstream, r2):
        with (
            requests.post(
                gw + P + "/tts/stream",
                json={"voice_uuid": "v", "text": "cut"},
                headers=ALICE,
                stream=True,
                timeout=30,
            ) as response,
            pytest.raises(requests.exceptions.ChunkedEncodingError),
        ):
            # The caller sees a truncated body, not a short one that looks whole.
            response.content  # noqa: B018
    _until(lambda: _incomplete(s3, bucket) == [])
    assert _objects(s3, bucket) == {}


def test_audio_past_the_size_limit_is_relayed_but_not_kept(
    make_gateway: Callable[..., Flask], r2: dict[str, Any], s3: Any
) -> None:
    body = wav_bytes(0.5)
    upstream = PacedUpstream(body)
    config = {**r2, "INDOX_MEDIA_MAX_ASSET_BYTES": 10_000}
    for gw, _ in paced_gateway(make_gateway, upstream, config):
        got = requests.post(
            gw + P + "/tts/stream",
            json={"voice_uuid": "v", "text": "x"},
            headers=ALICE,
            timeout=10,
        )
    assert got.content == body
    assert _objects(s3, r2["INDOX_MEDIA_R2_BUCKET"]) == {}


def test_the_sdk_route_takes_the_access_token_and_passes_errors(
    make_gateway: Callable[..., Flask], upstream: str
) -> None:
    app = make_gateway()
    with serve_wsgi(app) as gw:
        url = gw + P + "/stream"
        body = {"project_uuid": "p", "voice_uuid": "v", "data": "Hi"}
        ok = requests.post(url, json=body, headers={"x-access-token": "key-a"})
        assert ok.status_code == 200 and ok.content == wav_bytes(0.5, rate=22050)
        assert ok.headers["X-Asset-Id"].startswith("ast_")
        for headers in ({}, {"x-access-token": "wrong"}):
            refused = requests.post(url, json=body, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["message"] == "missing or invalid API key"
        # Resemble's own 400 passes through as it came, and nothing is stored.
        bad = requests.post(
            url, json={"data": "Hi"}, headers={"x-access-token": "key-a"}
        )
        assert bad.status_code == 400 and bad.json()["success"] is False
        assert "X-Asset-Id" not in bad.headers
    state = app.extensions["indox_media"]
    assert len(list(state.catalog.iter_user_assets("alice"))) == 1


def test_tts_stream_validates_its_body(client_gateway: Any) -> None:
    refused = client_gateway.post(P + "/tts/stream", json={"text": ""}, headers=ALICE)
    assert refused.status_code == 422
    body = refused.get_json()
    assert set(body["errors"]["json"]) == {"voice_uuid", "text"}


@pytest.fixture
def client_gateway(gateway: Flask) -> Any:
    return gateway.test_client()
