"""Presigned URLs: byte-identical to botocore's, expiring, and tamper-proof."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_indox_media.keys import AssetClassTable, build_key
from flask_indox_media.storage.r2 import R2Backend
from flask_indox_media.storage.s3 import S3Backend
from tests.conftest import R2_ENDPOINT, Clock

TABLE = AssetClassTable()

BACKENDS: dict[str, Callable[[], S3Backend]] = {
    "s3-us-east-1": lambda: S3Backend("s3", bucket="media-bucket", region="us-east-1"),
    "s3-eu-west-3": lambda: S3Backend("s3", bucket="media-bucket", region="eu-west-3"),
    "s3-custom-endpoint": lambda: S3Backend(
        "s3",
        bucket="media-bucket",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9000",
    ),
    "r2": lambda: R2Backend(
        "r2",
        bucket="media-bucket",
        region="auto",
        endpoint_url="https://acct.eu.r2.cloudflarestorage.com",
        access_key_id="r2-id",
        secret_access_key="r2-secret",
        addressing_style="path",
    ),
}


@functools.cache
def _cached(which: str) -> S3Backend:
    return BACKENDS[which]()


@pytest.fixture(scope="module")
def mocked() -> Iterator[None]:
    with mock.patch.dict(
        "os.environ",
        {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"},
    ):
        yield


keys = st.builds(
    lambda name, user, rid, ext, now: build_key(
        TABLE[name], user, ext, now=now, request_id=rid
    ),
    st.sampled_from(sorted(TABLE)),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,30}", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True),
    st.sampled_from(["wav", "mp3", "ogg"]),
    st.datetimes(min_value=datetime(2020, 1, 1), timezones=st.just(UTC)),
)


@pytest.mark.parametrize("which", sorted(BACKENDS))
# No deadline: botocore's first presign (loading its models) takes ~300 ms.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=keys,
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2090, 1, 1)),
    ttl=st.integers(1, 7 * 24 * 3600),
    content_type=st.none() | st.sampled_from(["audio/mpeg", "audio/wav"]),
    disposition=st.none()
    | st.sampled_from(['attachment; filename="a b.mp3"', "inline"]),
)
def test_urls_are_byte_identical_to_botocore(
    mocked: None,
    which: str,
    key: str,
    now: datetime,
    ttl: int,
    content_type: str | None,
    disposition: str | None,
) -> None:
    backend = _cached(which)
    # A second key in the same second reuses the query the first one built.
    for each in (key, key.replace(".", "-2.")):
        params: dict[str, Any] = {"Bucket": backend.bucket, "Key": each}
        if content_type:
            params["ResponseContentType"] = content_type
        if disposition:
            params["ResponseContentDisposition"] = disposition
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
            expected = backend.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=ttl
            )
        actual = backend.presigned_url(
            each,
            expires_in=ttl,
            response_content_type=content_type,
            response_content_disposition=disposition,
            now=now.replace(tzinfo=UTC),
        )
        assert actual == expected


def test_url_carries_expiry_and_time(mocked: None) -> None:
    """moto ignores expiry, so the URL's own parameters are what is checked."""
    backend = BACKENDS["r2"]()
    now = datetime(2026, 5, 1, 10, 15, 0, tzinfo=UTC)
    query = parse_qs(
        urlsplit(backend.presigned_url("tts/u/a.wav", expires_in=3600, now=now)).query
    )
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-Date"] == ["20260501T101500Z"]
    assert query["X-Amz-Credential"] == ["r2-id/20260501/auto/s3/aws4_request"]
    assert query["X-Amz-SignedHeaders"] == ["host"]


def test_session_tokens_are_signed_in(mocked: None) -> None:
    with mock.patch.dict("os.environ", {"AWS_SESSION_TOKEN": "tok/en+"}):
        backend = BACKENDS["s3-us-east-1"]()
        now = datetime(2026, 5, 1, tzinfo=UTC)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
            expected = backend.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": "media-bucket", "Key": "k"},
                ExpiresIn=60,
            )
        assert backend.presigned_url("k", expires_in=60, now=now) == expected
        assert "X-Amz-Security-Token=tok%2Fen%2B" in expected


def _upload_headers(client: Any, bucket: str, size: int) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    for op in (
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    ):
        client.meta.events.register(
            f"before-send.s3.{op}",
            lambda request, **_: seen.append(dict(request.headers)),
        )
    from boto3.s3.transfer import TransferConfig

    client.upload_fileobj(
        io.BytesIO(b"x" * size),
        bucket,
        "tts/u/a.wav",
        ExtraArgs={"ContentType": "audio/wav"},
        Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        ),
    )
    return seen


def _checksummed(headers: list[dict[str, str]]) -> list[str]:
    found = []
    for h in headers:
        for name, value in h.items():
            text = value.decode() if isinstance(value, bytes) else str(value)
            if name.lower().startswith("x-amz-checksum-") or name.lower() in (
                "x-amz-sdk-checksum-algorithm",
                "x-amz-trailer",
            ):
                found.append(name)
            if name.lower() == "content-encoding" and "aws-chunked" in text:
                found.append(f"{name}: {text}")
    return found


@pytest.mark.parametrize("size", [1024, 11 * 1024 * 1024])
def test_r2_uploads_send_no_checksums(r2_in_process: R2Backend, size: int) -> None:
    backend = r2_in_process
    bucket, endpoint = backend.bucket, R2_ENDPOINT
    headers = _upload_headers(backend.client, bucket, size)
    assert headers and _checksummed(headers) == []
    assert any(h.get("Content-Type") in ("audio/wav", b"audio/wav") for h in headers)
    # The same upload with boto3's defaults does send them: the check bites.
    default = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    assert _checksummed(_upload_headers(default, bucket, size)) != []


class TestLocalUrls:
    @pytest.fixture
    def stored(self, make_app: Callable[..., Flask]) -> tuple[Flask, str, bytes]:
        app = make_app()
        data = bytes(range(256)) * 8
        backend = app.extensions["indox_media"].catalog.primary
        backend.put(
            "tts/u/2026/05/01/101500-r.mp3", io.BytesIO(data), content_type="audio/mpeg"
        )
        return app, "tts/u/2026/05/01/101500-r.mp3", data

    def _url(self, app: Flask, key: str, **kwargs: Any) -> str:
        state = app.extensions["indox_media"]
        return str(
            state.catalog.primary.presigned_url(
                key, expires_in=3600, now=state.catalog.clock(), **kwargs
            )
        )

    def get(
        self, app: Flask, url: str, **kwargs: Any
    ) -> tuple[int, dict[str, str], bytes]:
        with app.test_client().get(url, **kwargs) as response:
            return response.status_code, dict(response.headers), response.data

    def test_get_and_range(self, stored: tuple[Flask, str, bytes]) -> None:
        app, key, data = stored
        url = self._url(app, key)
        status, headers, body = self.get(app, url)
        assert (status, headers["Content-Type"], body) == (200, "audio/mpeg", data)
        assert headers["Accept-Ranges"] == "bytes"
        status, headers, body = self.get(app, url, headers={"Range": "bytes=10-19"})
        assert (status, body) == (206, data[10:20])
        assert headers["Content-Range"] == f"bytes 10-19/{len(data)}"

    def test_response_overrides_are_signed(
        self, stored: tuple[Flask, str, bytes]
    ) -> None:
        app, key, _ = stored
        url = self._url(
            app,
            key,
            response_content_type="application/octet-stream",
            response_content_disposition='attachment; filename="x.mp3"',
        )
        status, headers, _ = self.get(app, url)
        assert status == 200 and headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Disposition"] == 'attachment; filename="x.mp3"'
        assert self.get(app, url.replace("octet-stream", "html"))[0] == 403

    def test_expired_url_is_refused(
        self, stored: tuple[Flask, str, bytes], clock: Clock
    ) -> None:
        app, key, _ = stored
        url = self._url(app, key)
        clock.advance(seconds=3599)
        assert self.get(app, url)[0] == 200
        clock.advance(seconds=1)
        status, headers, body = self.get(app, url)
        assert status == 403 and headers["Content-Type"] == "application/json"
        assert b"expired" in body

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda u: u.replace("signature=", "signature=x"),
            lambda u: u.replace("expires=", "expires=9"),
            lambda u: u.replace("101500-r.mp3", "101500-s.mp3"),
            lambda u: u.split("&signature=")[0],
            lambda u: u.replace("expires=", "expires=x"),
        ],
    )
    def test_tampered_url_is_refused(
        self, stored: tuple[Flask, str, bytes], tamper: Callable[[str], str]
    ) -> None:
        app, key, _ = stored
        assert self.get(app, tamper(self._url(app, key)))[0] == 403

    def test_traversal_is_refused(self, stored: tuple[Flask, str, bytes]) -> None:
        app, _, _ = stored
        status = self.get(
            app, "/indox-media/local/tts/../../etc/passwd?expires=1&signature=x"
        )[0]
        assert status in (403, 404)

    def test_signed_url_of_missing_object_is_404(
        self, stored: tuple[Flask, str, bytes]
    ) -> None:
        app, _, _ = stored
        assert self.get(app, self._url(app, "tts/u/absent.wav"))[0] == 404


@pytest.mark.parametrize("size", [1024, 6 * 1024 * 1024])
def test_r2_backend_puts_send_no_checksums(r2_in_process: R2Backend, size: int) -> None:
    """Both of the backend's paths: one PutObject, and multipart."""
    backend = r2_in_process
    backend.multipart_threshold = 5 * 1024 * 1024
    backend.multipart_chunksize = 5 * 1024 * 1024
    seen: list[tuple[str, dict[str, str]]] = []
    for op in ("PutObject", "CreateMultipartUpload", "UploadPart"):
        backend.client.meta.events.register(
            f"before-send.s3.{op}",
            lambda request, op=op, **_: seen.append((op, dict(request.headers))),
        )
    assert (
        backend.put("tts/u/a.wav", io.BytesIO(b"x" * size), content_type="audio/wav")
        == size
    )
    assert {op for op, _ in seen} == (
        {"PutObject"}
        if size < 5 * 1024 * 1024
        else {"CreateMultipartUpload", "UploadPart"}
    )
    assert _checksummed([h for _, h in seen]) == []
    assert backend.open("tts/u/a.wav").read() == b"x" * size
