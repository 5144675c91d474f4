"""The storage backend contract suite, shipped for backends of your own (as
Shrine ships its storage linter): every behaviour the extension relies on, as
pytest tests. Needs pytest (not a dependency of the extension itself)::

    from flask_indox_media.testing.contract import StorageContract

    class TestMemoryBackend(StorageContract):
        @pytest.fixture
        def backend(self):
            return MemoryBackend("memory", capacity=1000)
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import BinaryIO, cast

import pytest
import requests

from ..exceptions import ObjectExistsError, ObjectNotFoundError
from ..storage.base import StorageBackend


class OneByteAtATime(io.RawIOBase):
    """A non-seekable stream, as an HTTP download is."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 7) if size and size > 0 else 7)


class StorageContract:
    """What every backend does. Subclass it in a test module as
    ``class TestMyBackend(StorageContract)`` and provide the ``backend``
    fixture: a fresh, empty backend (and override :meth:`fetch` if its
    presigned URLs need more than a plain GET)."""

    @pytest.fixture
    def backend(self) -> StorageBackend:
        raise NotImplementedError("provide a `backend` fixture")

    def fetch(self, url: str) -> tuple[int, str, bytes]:
        response = requests.get(url, timeout=10)
        return (
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
        )

    def fetch_headers(self, url: str) -> Mapping[str, str]:
        """The headers of a GET of ``url`` (override as :meth:`fetch`)."""
        with requests.get(url, timeout=10) as response:
            return response.headers

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
        stream = cast(BinaryIO, OneByteAtATime(data))
        assert backend.put("uploads/u/a.mp3", stream, content_type="audio/mpeg") == len(
            data
        )
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

    def test_download_headers_are_kept_and_served(
        self, backend: StorageBackend
    ) -> None:
        key = "tts/u/h.wav"
        inline = 'inline; filename="tts-20260501-101500.wav"'
        cache = "private, max-age=31536000, immutable"
        backend.put(
            key,
            io.BytesIO(b"RIFF" + bytes(64)),
            content_type="audio/wav",
            content_disposition=inline,
            cache_control=cache,
        )
        info = backend.head(key)
        assert info is not None
        assert (info.content_disposition, info.cache_control) == (inline, cache)
        headers = self.fetch_headers(backend.presigned_url(key, expires_in=600))
        assert headers["Content-Disposition"] == inline
        assert headers["Cache-Control"] == cache
        attachment = 'attachment; filename="tts-20260501-101500.wav"'
        url = backend.presigned_url(
            key, expires_in=600, response_content_disposition=attachment
        )
        assert self.fetch_headers(url)["Content-Disposition"] == attachment

    def test_no_download_headers_unless_given(self, backend: StorageBackend) -> None:
        backend.put("tts/u/plain.wav", io.BytesIO(b"x"), content_type="audio/wav")
        info = backend.head("tts/u/plain.wav")
        assert info is not None
        assert (info.content_disposition, info.cache_control) == (None, None)
        url = backend.presigned_url("tts/u/plain.wav", expires_in=600)
        assert "Content-Disposition" not in self.fetch_headers(url)

    def test_writer_commits_whole(self, backend: StorageBackend) -> None:
        key = "tts/u/streamed.wav"
        writer = backend.open_writer(
            key, content_type="audio/wav", metadata={"user-id": "u"}
        )
        chunks = [b"RIFF", bytes(range(256)) * 30, b"", b"tail"]
        for chunk in chunks:
            writer.write(chunk)
            assert backend.head(key) is None  # nothing visible before commit
        assert writer.commit() == sum(map(len, chunks))
        writer.abort()  # a no-op once committed
        info = backend.head(key)
        assert info is not None and info.content_type == "audio/wav"
        assert info.metadata["user-id"] == "u"
        with backend.open(key) as stream:
            assert stream.read() == b"".join(chunks)
        assert [i.key for i in backend.list_objects("tts/u/")] == [key]

    def test_writer_abort_leaves_nothing(self, backend: StorageBackend) -> None:
        writer = backend.open_writer("tts/u/dropped.wav", content_type="audio/wav")
        writer.write(b"RIFF" + bytes(1000))
        writer.abort()
        writer.abort()
        assert backend.head("tts/u/dropped.wav") is None
        assert list(backend.list_objects("tts/u/")) == []
