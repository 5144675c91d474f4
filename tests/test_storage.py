"""One contract suite for every storage backend."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from flask_indox_media import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageBackend,
    StorageError,
)
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.storage.s3 import MiB, S3Backend
from flask_indox_media.storage.writers import SpooledWriter
from flask_indox_media.testing.contract import OneByteAtATime, StorageContract
from flask_indox_media.testing.counting import s3_requests
from tests.conftest import make_bucket, r2_backend
from tests.custom_backend import MemoryBackend


class TestLocal(StorageContract):
    @pytest.fixture
    def app(self, make_app: Callable[..., Flask]) -> Flask:
        return make_app()

    @pytest.fixture
    def backend(self, app: Flask) -> StorageBackend:
        self.client = app.test_client()
        backend = app.extensions["indox_media"].catalog.backends["local"]
        assert isinstance(backend, LocalBackend)
        return backend

    def fetch(self, url: str) -> tuple[int, str, bytes]:
        with self.client.get(url) as response:
            return (
                response.status_code,
                response.headers.get("Content-Type", ""),
                response.data,
            )


class S3Contract(StorageContract):
    """What the S3 family adds: the conditional write holds above the multipart
    threshold too (If-None-Match on the completion), and a refused upload
    leaves no parts behind."""

    def test_conditional_multipart_writes_once(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        backend.multipart_threshold = backend.multipart_chunksize = 5 * MiB
        data = bytes(range(256)) * (4 * 11 * 1024)  # 11 MiB: 3 parts
        key = "voices/u/once.wav"
        assert backend.put(
            key, io.BytesIO(data), content_type="audio/wav", if_absent=True
        ) == len(data)
        with s3_requests(backend.client) as sent, pytest.raises(ObjectExistsError):
            backend.put(
                key,
                io.BytesIO(b"y" * len(data)),
                content_type="audio/wav",
                if_absent=True,
            )
        assert sent == {
            "CreateMultipartUpload": 1,
            "UploadPart": 3,
            "CompleteMultipartUpload": 1,
            "AbortMultipartUpload": 1,
        }
        uploads = backend.client.list_multipart_uploads(Bucket=backend.bucket)
        assert uploads.get("Uploads", []) == []
        with backend.open(key) as stream:
            assert stream.read() == data

    def test_writer_sends_parts_as_they_fill(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        backend.multipart_chunksize = 5 * MiB
        data = bytes(range(256)) * (4 * 11 * 1024)  # 11 MiB: parts of 5, 5, 1
        writer = backend.open_writer("tts/u/long.wav", content_type="audio/wav")
        with s3_requests(backend.client) as sent:
            for start in range(0, len(data), 64 * 1024):
                writer.write(data[start : start + 64 * 1024])
            # Two full parts are sent; the third waits for the commit.
            assert sent == {"CreateMultipartUpload": 1, "UploadPart": 2}
            assert writer.commit() == len(data)
        assert sent["UploadPart"] == 3 and sent["CompleteMultipartUpload"] == 1
        with backend.open("tts/u/long.wav") as stream:
            assert stream.read() == data

    def test_writer_abort_mid_upload_leaves_no_parts(
        self, backend: StorageBackend
    ) -> None:
        assert isinstance(backend, S3Backend)
        backend.multipart_chunksize = 5 * MiB
        writer = backend.open_writer("tts/u/cut.wav", content_type="audio/wav")
        writer.write(b"x" * (6 * MiB))  # one part sent
        assert backend.client.list_multipart_uploads(Bucket=backend.bucket)["Uploads"]
        with s3_requests(backend.client) as sent:
            writer.abort()
        assert sent == {"AbortMultipartUpload": 1}
        uploads = backend.client.list_multipart_uploads(Bucket=backend.bucket)
        assert uploads.get("Uploads", []) == []
        assert backend.head("tts/u/cut.wav") is None

    def test_writer_of_a_small_object_is_one_put(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        writer = backend.open_writer("tts/u/short.wav", content_type="audio/wav")
        with s3_requests(backend.client) as sent:
            writer.write(b"RIFF" + bytes(5000))
            writer.commit()
        assert sent == {"PutObject": 1}


class TestS3InProcess(S3Contract):
    @pytest.fixture
    def backend(self, aws: None) -> StorageBackend:
        return S3Backend("s3", bucket=make_bucket(None), region="us-east-1")


class TestR2InProcess(S3Contract):
    @pytest.fixture
    def backend(self, r2_in_process: StorageBackend) -> StorageBackend:
        return r2_in_process


class TestR2OverHttp(S3Contract):
    """moto in server mode: every call and every URL over real HTTP."""

    @pytest.fixture
    def backend(self, moto_endpoint: str) -> StorageBackend:
        backend: StorageBackend = r2_backend(moto_endpoint)
        return backend

    def test_multipart_upload_has_equal_parts(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        part = 5 * 1024 * 1024
        backend.multipart_threshold = part
        backend.multipart_chunksize = part
        sizes: dict[int, int] = {}

        def record(request: Any, **_: Any) -> None:
            number = int(parse_qs(urlsplit(request.url).query)["partNumber"][0])
            sizes[number] = int(request.headers["Content-Length"])

        backend.client.meta.events.register("before-send.s3.UploadPart", record)
        data = bytes(range(256)) * (4 * 11 * 1024)  # 11 MiB
        stored = backend.put(
            "voices/u/big.wav", OneByteAtATime(data), content_type="audio/wav"
        )
        assert stored == len(data)
        assert sizes == {1: part, 2: part, 3: len(data) - 2 * part}
        with backend.open("voices/u/big.wav") as stream:
            assert stream.read() == data


def test_storage_outage_is_a_typed_error() -> None:
    from flask_indox_media.testing import free_port

    backend = S3Backend(
        "s3",
        bucket="nowhere",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="a",
        secret_access_key="b",
    )
    with pytest.raises(StorageError) as info:
        backend.head("tts/u/x.wav")
    assert not isinstance(info.value, ObjectNotFoundError)
    with pytest.raises(StorageError):
        backend.put("tts/u/x.wav", io.BytesIO(b"x"), content_type="audio/wav")
    with pytest.raises(StorageError):
        list(backend.list_objects("tts/"))


def test_missing_bucket_is_a_typed_error(aws: None) -> None:
    backend = S3Backend("s3", bucket="no-such-bucket", region="us-east-1")
    with pytest.raises(StorageError):
        backend.put("tts/u/x.wav", io.BytesIO(b"x"), content_type="audio/wav")


def test_delete_many_batches_by_1000(aws: None) -> None:
    backend = S3Backend("s3", bucket=make_bucket(None), region="us-east-1")
    batches: list[int] = []
    backend.client.meta.events.register(
        "before-call.s3.DeleteObjects",
        lambda params, **_: batches.append(params["body"].count(b"<Key>")),
    )
    assert backend.delete_many(f"tts/u/{i}.wav" for i in range(2500)) == 2500
    assert batches == [1000, 1000, 500]


def test_backend_pickles_without_its_client(aws: None, tmp_path: Path) -> None:
    import pickle

    backend = S3Backend("s3", bucket=make_bucket(None), region="us-east-1")
    backend.put("tts/u/a.wav", io.BytesIO(b"x"), content_type="audio/wav")
    clone = pickle.loads(pickle.dumps(backend))
    assert clone.exists("tts/u/a.wav")


def test_a_third_party_backend_streams_through_the_spooled_fallback() -> None:
    backend = MemoryBackend("memory", capacity=10)
    writer = backend.open_writer(
        "tts/u/a.wav", content_type="audio/wav", metadata={"user-id": "u"}
    )
    assert isinstance(writer, SpooledWriter)
    for chunk in (b"RIFF", b"x" * (2 * MiB)):  # past the in-memory spool
        writer.write(chunk)
    assert backend.head("tts/u/a.wav") is None
    assert writer.commit() == 4 + 2 * MiB
    info = backend.head("tts/u/a.wav")
    assert info is not None and info.content_type == "audio/wav"
    assert info.metadata == {"user-id": "u"}
    dropped = backend.open_writer("tts/u/b.wav", content_type="audio/wav")
    dropped.write(b"RIFF")
    dropped.abort()
    assert backend.head("tts/u/b.wav") is None
