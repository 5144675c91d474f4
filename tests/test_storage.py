"""One contract suite for every storage backend."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_indox_media import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageBackend,
    StorageError,
)
from flask_indox_media.storage import s3 as s3_module
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.storage.multipart import upload_multipart
from flask_indox_media.storage.r2 import R2Backend
from flask_indox_media.storage.s3 import S3Backend
from flask_indox_media.storage.s3_config import MiB, transfer_options
from flask_indox_media.storage.s3_objects import read_head
from flask_indox_media.storage.streams import (
    READ_AT_MOST,
    BufferReader,
    Counted,
    HeadFirst,
)
from flask_indox_media.storage.writers import SpooledWriter
from flask_indox_media.testing import RGW
from flask_indox_media.testing.contract import OneByteAtATime, StorageContract
from flask_indox_media.testing.counting import s3_requests
from tests.conftest import make_bucket, r2_backend, rgw_config
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

    def fetch_headers(self, url: str) -> Mapping[str, str]:
        with self.client.get(url) as response:
            return dict(response.headers)


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

    def test_multipart_keeps_download_headers(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        backend.multipart_threshold = backend.multipart_chunksize = 5 * MiB
        inline = 'inline; filename="voices-20260501-101500.wav"'
        backend.put(
            "voices/u/big.wav",
            io.BytesIO(bytes(6 * MiB)),
            content_type="audio/wav",
            content_disposition=inline,
            cache_control="private, max-age=31536000, immutable",
        )
        info = backend.head("voices/u/big.wav")
        assert info is not None and info.content_disposition == inline
        assert info.cache_control == "private, max-age=31536000, immutable"

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


class MultipartParts:
    """For backends on a server over HTTP, where part sizes can be watched."""

    @pytest.mark.parametrize("parts_ahead", [1, 2])
    def test_multipart_upload_has_equal_parts(
        self, backend: StorageBackend, parts_ahead: int
    ) -> None:
        """Whether the look-ahead holds one part or two (the defaults' ratio),
        the parts are equal and sent in order."""
        assert isinstance(backend, S3Backend)
        part = 5 * 1024 * 1024
        backend.multipart_threshold = parts_ahead * part
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
        # The multipart ETag ("<md5 of the parts' md5s>-3"), read with HEAD:
        # RGW leaves it out of the CompleteMultipartUpload answer.
        head = backend.client.head_object(Bucket=backend.bucket, Key="voices/u/big.wav")
        assert head["ETag"].endswith('-3"')


class TestR2OverHttp(MultipartParts, S3Contract):
    """moto in server mode: every call and every URL over real HTTP."""

    @pytest.fixture
    def backend(self, moto_endpoint: str) -> StorageBackend:
        backend: StorageBackend = r2_backend(moto_endpoint)
        return backend


class RGWContract(MultipartParts, StorageContract):
    """The contract on a real S3 server (Ceph's RADOS Gateway), configured as an
    app configures it: through the backend's own keys, on a fresh bucket. Not
    S3Contract: RGW 16 ignores If-None-Match on CompleteMultipartUpload (see
    tests/test_rgw.py and docs/testing.rst)."""

    configuration = ""

    @pytest.fixture
    def backend(self, rgw: RGW, make_app: Callable[..., Flask]) -> StorageBackend:
        return self.configured(make_app, rgw_config(rgw, self.configuration))

    def configured(
        self, make_app: Callable[..., Flask], config: dict[str, Any]
    ) -> S3Backend:
        app = make_app(config)
        backend = app.extensions["indox_media"].catalog.backends[self.configuration]
        assert isinstance(backend, S3Backend)
        assert (
            backend.endpoint_url
            == config[f"INDOX_MEDIA_{self.configuration.upper()}_ENDPOINT_URL"]
        )
        return backend

    def test_a_wrong_secret_is_refused(
        self, rgw: RGW, make_app: Callable[..., Flask]
    ) -> None:
        # moto accepts any secret: the contract passes there with a broken
        # signer. A real server must refuse this one.
        config = rgw_config(rgw, self.configuration)
        config[f"INDOX_MEDIA_{self.configuration.upper()}_SECRET_ACCESS_KEY"] = "0" * 40
        backend = self.configured(make_app, config)
        with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
            backend.open("tts/u/x.wav")
        with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
            backend.put("tts/u/x.wav", io.BytesIO(b"x"), content_type="audio/wav")


class TestR2OnRGW(RGWContract):
    configuration = "r2"

    def test_r2_settings_reach_the_server(self, backend: StorageBackend) -> None:
        assert isinstance(backend, R2Backend)
        config = backend.botocore_config()
        assert backend.region == "auto"
        # RGW here is plain http: the body stays signed (its only integrity check).
        assert config.s3 == {
            "addressing_style": "path",
            "payload_signing_enabled": True,
        }
        assert config.request_checksum_calculation == "when_required"
        sent: list[Any] = []
        backend.client.meta.events.register(
            "before-send.s3.PutObject", lambda request, **_: sent.append(request)
        )
        backend.put("tts/u/c.wav", io.BytesIO(b"RIFF"), content_type="audio/wav")
        [request] = sent
        # Path style, region "auto" in the credential scope, no CRC checksum
        # header or aws-chunked body (which R2 refuses on some calls).
        assert urlsplit(request.url).path == f"/{backend.bucket}/tts/u/c.wav"
        assert "/auto/s3/aws4_request" in request.headers["Authorization"].decode()
        assert not [
            h for h in request.headers if h.lower().startswith("x-amz-checksum")
        ]
        assert b"aws-chunked" not in request.headers.get("Content-Encoding", b"")


class TestS3OnRGW(RGWContract):
    configuration = "s3"


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


def test_one_client_per_process_shared_by_threads_rebuilt_after_fork() -> None:
    """Building a boto3 client costs ~100 ms: threads share the process's one
    (boto3 clients are thread-safe); a forked child builds its own."""
    import os
    import threading

    backend = S3Backend(
        "s3",
        bucket="b",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="a",
        secret_access_key="b",
    )
    seen: list[int] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()  # all at once: the first use races
        seen.append(id(backend.client))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and set(seen) == {id(backend.client)}
    parent_client = backend.client
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new client, and the same one on a second call
        try:
            child = backend.client
            ok = child is not parent_client and backend.client is child
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
    assert backend.client is parent_client


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


class OddReads(io.RawIOBase):
    """A non-seekable stream whose reads return the next of ``sizes`` bytes
    (cycling), however much was asked: the short reads of a socket."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = memoryview(data)
        self._sizes = sizes
        self._turn = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        count = min(len(buffer), size, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


class PartsClient:
    """Just enough of an S3 client for ``upload_multipart``: it keeps the parts."""

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.completed: list[dict[str, Any]] = []

    def create_multipart_upload(self, **_: Any) -> dict[str, str]:
        return {"UploadId": "u"}

    def upload_part(self, *, PartNumber: int, Body: Any, **_: Any) -> dict[str, str]:
        self.parts[PartNumber] = Body.read()
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, **kwargs: Any) -> None:
        self.completed.append(kwargs)

    def abort_multipart_upload(self, **_: Any) -> None:
        raise AssertionError("aborted")


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=8),
    length=st.integers(0, 20_000),
    part=st.integers(1, 4096),
    concurrency=st.integers(1, 3),
)
def test_parts_filled_with_readinto_hold_the_same_bytes(
    sizes: list[int], length: int, part: int, concurrency: int
) -> None:
    data = bytes(i * 7 % 251 for i in range(length))
    client = PartsClient()
    upload_multipart(
        client,
        "b",
        "k",
        Counted(OddReads(data, sizes)),
        part_size=part,
        concurrency=concurrency,
        extra={},
        condition={},
    )
    numbers = sorted(client.parts)
    assert numbers == list(range(1, len(numbers) + 1))
    assert b"".join(client.parts[n] for n in numbers) == data
    # Equal parts but the last (R2 refuses others); one empty part at most,
    # for an empty stream.
    assert all(len(client.parts[n]) == part for n in numbers[:-1])
    assert len(client.completed) == 1


class FailingPartClient(PartsClient):
    """Refuses part 2, and records the abort."""

    aborted = False

    def upload_part(self, *, PartNumber: int, Body: Any, **kw: Any) -> dict[str, str]:
        if PartNumber == 2:
            raise ClientError({"Error": {"Code": "InternalError"}}, "UploadPart")
        return super().upload_part(PartNumber=PartNumber, Body=Body, **kw)

    def abort_multipart_upload(self, **_: Any) -> None:
        self.aborted = True


def test_a_failed_part_stops_the_reading_and_aborts() -> None:
    data = bytes(range(256)) * 4000  # 1,000 parts of 1,024 bytes
    stream = Counted(OddReads(data, [1024]))
    client = FailingPartClient()
    with pytest.raises(ClientError):
        upload_multipart(
            client,
            "b",
            "k",
            stream,
            part_size=1024,
            concurrency=2,
            extra={},
            condition={},
        )
    assert client.aborted and client.completed == []
    # Reading stops soon after part 2 fails, not at the stream's end.
    assert stream.count < len(data) // 2


@pytest.mark.parametrize(
    ("length", "threshold", "most"),
    [
        (MiB, 8 * MiB, 2 * MiB),  # one full first read: one doubling, not 8 MiB
        (3 * MiB, 8 * MiB, 4 * MiB),
        (8 * MiB, 8 * MiB, 8 * MiB),
        (9 * MiB, 5 * MiB, 5 * MiB),  # the threshold caps the growth
        (100, 8 * MiB, MiB),
    ],
)
def test_the_look_ahead_grows_only_as_the_stream_fills_it(
    length: int, threshold: int, most: int
) -> None:
    data = bytes(i % 253 for i in range(length))
    head, size = read_head(Counted(io.BytesIO(data)), threshold)
    assert size == min(length, threshold)
    assert head[:size] == data[:size]
    assert len(head) <= most


def test_a_part_body_is_read_in_small_copies_and_read_whole_on_retry() -> None:
    # botocore hashes a signed body with read(1 MiB): each copy handed out is
    # at most READ_AT_MOST bytes, so a sending thread holds no MiB-sized ones.
    part = bytearray(i % 251 for i in range(3 * READ_AT_MOST + 5))
    body = BufferReader(part, len(part) - 2)
    chunks = list(iter(lambda: body.read(MiB), b""))
    assert [len(c) for c in chunks] == [READ_AT_MOST] * 3 + [3]
    assert b"".join(chunks) == part[:-2]
    body.seek(0)  # a retry resends from the start, and read() is the rest
    assert body.read(10) == part[:10]
    assert body.read() == part[10:-2]
    assert body.read(1) == b""
    body.close()
    part.extend(b"x")  # the buffer is let go: it can be resized and refilled


@pytest.mark.parametrize(
    ("threshold", "size", "copied"),
    [
        (5 * MiB, 3 * MiB, False),  # one PutObject, read past the first MiB
        (5 * MiB, 5 * MiB, False),  # exactly one part: the look-ahead is the part
        (10 * MiB, 10 * MiB, False),  # two parts, both in the look-ahead
        (10 * MiB, 11 * MiB, False),  # two whole parts in the look-ahead, then one
        (12 * MiB, 13 * MiB, True),  # the look-ahead ends mid-part: copied out
    ],
)
def test_puts_around_the_threshold(
    r2_in_process: S3Backend,
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    size: int,
    copied: bool,
) -> None:
    backend = r2_in_process
    backend.multipart_threshold, backend.multipart_chunksize = threshold, 5 * MiB
    copies: list[int] = []

    def head_first(head: bytearray, count: int, reader: Any) -> HeadFirst:
        copies.append(count)
        return HeadFirst(head, count, reader)

    monkeypatch.setattr(s3_module, "HeadFirst", head_first)
    data = bytes(i * 13 % 256 for i in range(size))
    stored = backend.put(
        "voices/u/t.wav",
        OddReads(data, [65_537, 3, 1_000_003]),
        content_type="audio/wav",
    )
    assert stored == size
    assert copies == ([threshold] if copied else [])
    with backend.open("voices/u/t.wav") as stream:
        assert stream.read() == data


def test_defaults_write_up_to_16_mib_in_one_put(r2_in_process: S3Backend) -> None:
    """The default threshold is two default parts: an asset of 8 to 16 MiB is
    one Class A request, not a create, two parts and a completion."""
    backend = r2_in_process
    defaults = transfer_options(R2Backend.config_defaults)
    assert backend.multipart_threshold == defaults["multipart_threshold"] == 16 * MiB
    assert backend.multipart_chunksize == defaults["multipart_chunksize"] == 8 * MiB
    data = bytes(i * 7 % 256 for i in range(12 * MiB))
    with s3_requests(backend.client) as sent:
        stored = backend.put(
            "voices/u/m.wav", io.BytesIO(data), content_type="audio/wav", if_absent=True
        )
    assert stored == len(data) and sent == {"PutObject": 1}
    with backend.open("voices/u/m.wav") as stream:
        assert stream.read() == data


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


@pytest.mark.parametrize(
    ("endpoint", "signed"),
    [("https://s3.example.com", False), ("http://s3.example.com", True), (None, False)],
)
def test_bodies_are_signed_only_over_plain_http(
    endpoint: str | None, signed: bool
) -> None:
    backend = S3Backend(
        "s3",
        bucket="b",
        region="us-east-1",
        endpoint_url=endpoint,
        access_key_id="k",
        secret_access_key="s",
    )
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        seen.append(request.headers["X-Amz-Content-SHA256"].decode())
        return AWSResponse(request.url, 200, {"ETag": '"e"'}, _NoBody())

    backend.client.meta.events.register("before-send.s3.PutObject", capture)
    backend.put("voices/u/x.wav", io.BytesIO(b"abc"), content_type="audio/wav")
    unsigned = "UNSIGNED-PAYLOAD"
    assert seen == [hashlib.sha256(b"abc").hexdigest() if signed else unsigned]
