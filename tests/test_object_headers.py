"""Every asset object is stored with its download headers (Content-Type,
Content-Disposition, Cache-Control): a HEAD of the object shows them, and a
presigned GET answers with them, on moto in server mode (R2 and S3) and on the
local backend."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from flask import Flask

from flask_indox_media.catalog import CACHE_CONTROL
from flask_indox_media.testing import wav_bytes
from tests.conftest import ALICE, create_clip, make_bucket, r2_config

P = "/api/v1/resemble"


def s3_config(endpoint: str) -> dict[str, Any]:
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "s3",
        "INDOX_MEDIA_S3_BUCKET": make_bucket(endpoint),
        "INDOX_MEDIA_S3_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_S3_ACCESS_KEY_ID": "testing",
        "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": "testing",
    }


def expected_disposition(key: str) -> str:
    """``inline`` with the clean name the key's class and time give."""
    match = re.search(r"/(\d{4})/(\d{2})/(\d{2})/(\d{6})-[^/]+\.(\w+)$", key)
    assert match is not None, key
    y, m, d, t, ext = match.groups()
    cls = key.split("/", 1)[0]
    return f'inline; filename="{cls}-{y}{m}{d}-{t}.{ext}"'


def upload(client: Any) -> dict[str, Any]:
    response = client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(wav_bytes(0.1)), "take.wav")},
        headers=ALICE,
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


@pytest.mark.parametrize("kind", ["r2", "s3"])
def test_mirrored_and_uploaded_objects_carry_headers_on_moto_server(
    make_gateway: Callable[..., Flask], moto_endpoint: str, kind: str
) -> None:
    config = r2_config(moto_endpoint) if kind == "r2" else s3_config(moto_endpoint)
    gateway = make_gateway(config)  # no Redis: the mirror runs before the answer
    client = gateway.test_client()
    backend = gateway.extensions["indox_media"].catalog.backends[kind]
    raw = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for item in (create_clip(client), upload(client)):
        key = backend.key_from_url(item["audio_url"])
        assert key is not None
        head = raw.head_object(Bucket=backend.bucket, Key=key)
        assert head["ContentType"] in ("audio/wav", "audio/mpeg")
        assert head["ContentDisposition"] == expected_disposition(key)
        assert head["CacheControl"] == CACHE_CONTROL
        got = requests.get(item["audio_url"], timeout=10)
        assert got.status_code == 200
        assert got.headers["Content-Type"] == head["ContentType"]
        assert got.headers["Content-Disposition"] == expected_disposition(key)
        assert got.headers["Cache-Control"] == CACHE_CONTROL
        # The stable link's ?download=1 overrides the stored disposition.
        link = item["playback_url"].split("://", 1)[1].split("/", 1)[1]
        redirect = client.get(f"/{link}?download=1")
        assert redirect.status_code == 302
        download = requests.get(redirect.headers["Location"], timeout=10)
        name = expected_disposition(key).removeprefix("inline; ")
        assert download.headers["Content-Disposition"] == f"attachment; {name}"


def test_local_objects_carry_headers(gateway: Flask) -> None:
    client = gateway.test_client()
    backend = gateway.extensions["indox_media"].catalog.backends["local"]
    for item in (create_clip(client), upload(client)):
        key = backend.key_from_url(item["audio_url"])
        assert key is not None
        info = backend.head(key)
        assert info is not None
        assert info.content_disposition == expected_disposition(key)
        assert info.cache_control == CACHE_CONTROL
        for method in (client.head, client.get):
            with method(item["audio_url"]) as served:
                assert served.status_code == 200
                assert served.headers["Content-Type"] == info.content_type
                assert served.headers["Content-Disposition"] == (
                    expected_disposition(key)
                )
                assert served.headers["Cache-Control"] == CACHE_CONTROL
                assert "Expires" not in served.headers
