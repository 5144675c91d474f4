"""One contract suite for every storage backend."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from flask_indox_media import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageBackend,
    StorageError,
)
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.storage.s3 import MiB, S3Backend
from flask_indox_media.testing.counting import s3_requests
from tests.conftest import make_bucket, r2_backend


class OneByteAtATime(io.RawIOBase):
    """A non-seekable stream, as an HTTP download is."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 7) if size and size > 0 else 7)


class BackendContract:
    """What every backend does; subclasses provide ``backend``."""

    @pytest.fixture
    def backend(self) -> StorageBackend:
        raise NotImplementedError

    def fetch(self, url: str) -> tuple[int, str, bytes]:
        response = requests.get(url, timeout=10)
        return (
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
        )

    def test_put_head_open_round_trip(self, backend: StorageBackend) -> None:
        data = b"RIFF" + bytes(range(256)) * 40
        size = backend.put(
            "tts/u1/2026/05/01/101500-r1.wav",
            io.BytesIO(data),
            content_type="audio/wav",
            metadata={"user-id": "u1", "source-url": "https://app.resemble.ai/x.wav"},
        )
        assert size == len(data)
        info = backend.head("tts/u1/2026/05/01/101500-r1.wav")
        assert info is not None
        assert info.size == len(data)
        assert info.content_type == "audio/wav"
        assert info.metadata["user-id"] == "u1"
        assert info.metadata["source-url"] == "https://app.resemble.ai/x.wav"
        with backend.open("tts/u1/2026/05/01/101500-r1.wav") as stream:
            assert stream.read() == data

    def test_non_seekable_stream(self, backend: StorageBackend) -> None:
        data = bytes(range(256)) * 100
        assert backend.put(
            "uploads/u/a.mp3", OneByteAtATime(data), content_type="audio/mpeg"
        ) == len(data)
        with backend.open("uploads/u/a.mp3") as stream:
            assert stream.read() == data

    def test_absent_objects(self, backend: StorageBackend) -> None:
        assert backend.head("tts/nobody/x.wav") is None
        assert not backend.exists("tts/nobody/x.wav")
        with pytest.raises(ObjectNotFoundError):
            backend.open("tts/nobody/x.wav")

    def test_overwrite_replaces(self, backend: StorageBackend) -> None:
        backend.put("tts/u/k.wav", io.BytesIO(b"one"), content_type="audio/wav")
        backend.put("tts/u/k.wav", io.BytesIO(b"second"), content_type="audio/mpeg")
        info = backend.head("tts/u/k.wav")
        assert info is not None and (info.size, info.content_type) == (6, "audio/mpeg")

    def test_conditional_put_writes_once(self, backend: StorageBackend) -> None:
        key = "tts/u/once.wav"
        assert (
            backend.put(
                key, io.BytesIO(b"first"), content_type="audio/wav", if_absent=True
            )
            == 5
        )
        with pytest.raises(ObjectExistsError):
            backend.put(
                key, io.BytesIO(b"second"), content_type="audio/mpeg", if_absent=True
            )
        info = backend.head(key)
        assert info is not None and (info.size, info.content_type) == (5, "audio/wav")
        with backend.open(key) as stream:
            assert stream.read() == b"first"

    def test_list_by_prefix_pages_and_resumes(self, backend: StorageBackend) -> None:
        keys = [f"tts/u1/2026/05/0{i}/000000-r.wav" for i in range(1, 6)]
        for key in [*keys, "tts/u10/2026/05/01/000000-r.wav", "voices/u1/x.wav"]:
            backend.put(key, io.BytesIO(b"x"), content_type="audio/wav")
        assert [i.key for i in backend.list_objects("tts/u1/", page_size=2)] == keys
        assert [
            i.key for i in backend.list_objects("tts/u1/", start_after=keys[2])
        ] == keys[3:]
        assert (
            len(list(backend.list_objects("tts/u1"))) == 6
        )  # a bare prefix is a string prefix
        assert all(i.size == 1 for i in backend.list_objects("tts/"))
        assert list(backend.list_objects("nothing-here/")) == []

    def test_delete_many_and_prefix(self, backend: StorageBackend) -> None:
        for i in range(5):
            backend.put(f"tts/u2/{i}.wav", io.BytesIO(b"x"), content_type="audio/wav")
        backend.put("tts/u3/keep.wav", io.BytesIO(b"x"), content_type="audio/wav")
        assert (
            backend.delete_many(["tts/u2/0.wav", "tts/u2/1.wav", "tts/u2/absent.wav"])
            == 3
        )
        assert [i.key for i in backend.list_objects("tts/u2/")] == [
            "tts/u2/2.wav",
            "tts/u2/3.wav",
            "tts/u2/4.wav",
        ]
        assert backend.delete_prefix("tts/u2/") == 3
        assert list(backend.list_objects("tts/u2/")) == []
        backend.delete("tts/u2/absent.wav")  # deleting twice is no error
        assert backend.exists("tts/u3/keep.wav")

    def test_presigned_url_serves_the_exact_bytes(
        self, backend: StorageBackend
    ) -> None:
        data = b"ID3" + bytes(range(256)) * 50
        backend.put("tts/u/p.mp3", io.BytesIO(data), content_type="audio/mpeg")
        url = backend.presigned_url("tts/u/p.mp3", expires_in=600)
        status, content_type, body = self.fetch(url)
        assert (status, content_type, body) == (200, "audio/mpeg", data)

    def test_presign_needs_no_object(self, backend: StorageBackend) -> None:
        url = backend.presigned_url("tts/u/not-yet.wav", expires_in=60)
        assert "tts/u/not-yet.wav" in url
        assert self.fetch(url)[0] in (403, 404)


class TestLocal(BackendContract):
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


class S3Contract(BackendContract):
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


class TestS3InProcess(S3Contract):
    @pytest.fixture
    def backend(self, aws: None) -> StorageBackend:
        return S3Backend("s3", bucket=make_bucket(None), region="us-east-1")


class TestR2InProcess(S3Contract):
    @pytest.fixture
    def backend(self, r2_in_process: StorageBackend) -> StorageBackend:
        return r2_in_process


@pytest.mark.skipif(
    not os.environ.get("TEST_S3_ENDPOINT_URL"),
    reason="set TEST_S3_ENDPOINT_URL, TEST_S3_ACCESS_KEY_ID and "
    "TEST_S3_SECRET_ACCESS_KEY to run against a real S3 API (Ceph RGW...)",
)
class TestExternalS3(S3Contract):
    """The contract against a real S3-compatible server (a Ceph RGW launcher,
    MinIO, a test bucket on R2...): a fresh bucket, emptied and deleted after."""

    @pytest.fixture
    def backend(self) -> Iterator[StorageBackend]:
        endpoint = os.environ["TEST_S3_ENDPOINT_URL"]
        creds = {
            "access_key_id": os.environ.get("TEST_S3_ACCESS_KEY_ID", "testing"),
            "secret_access_key": os.environ.get("TEST_S3_SECRET_ACCESS_KEY", "testing"),
        }
        name = f"indox-test-{uuid.uuid4().hex[:12]}"
        backend = S3Backend(
            "s3",
            bucket=name,
            region=os.environ.get("TEST_S3_REGION", "us-east-1"),
            endpoint_url=endpoint,
            addressing_style="path",
            **creds,
        )
        backend.client.create_bucket(Bucket=name)
        try:
            yield backend
        finally:
            backend.delete_prefix("")
            for upload in backend.client.list_multipart_uploads(Bucket=name).get(
                "Uploads", []
            ):
                backend.client.abort_multipart_upload(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            backend.client.delete_bucket(Bucket=name)


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
