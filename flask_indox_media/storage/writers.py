"""Streaming writers: an object written chunk by chunk as its bytes arrive,
then committed whole or aborted without a trace.

:meth:`StorageBackend.open_writer <flask_indox_media.StorageBackend.open_writer>`
returns one. S3 and R2 send a multipart upload
(:class:`~flask_indox_media.storage.multipart.MultipartWriter`), the local
backend writes a temporary file and moves it into place; any other backend
gets :class:`SpooledWriter`, which spools to a temporary file and hands it to
the backend's ``put`` on commit.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, BinaryIO, Protocol

#: Bytes a spooled writer keeps in memory before it moves to a file on disk.
SPOOL_MEMORY = 1024 * 1024


class ObjectWriter(ABC):
    """An object being written: :meth:`write` each chunk, then exactly one of
    :meth:`commit` (the object appears, whole) or :meth:`abort` (nothing is
    left: no object, no partial upload, no temporary file).

    Until :meth:`commit` returns, no reader sees the object. A writer is used
    by one thread at a time.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.size = 0
        self.closed = False

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Add ``data`` to the object.

        :raises StorageError: the backend failed; the caller then aborts.
        """

    @abstractmethod
    def commit(self) -> int:
        """Make the object appear, whole.

        :returns: its size in bytes.
        :raises StorageError: the backend failed (what was sent is cleaned up).
        """

    @abstractmethod
    def abort(self) -> None:
        """Drop everything written so far. Never raises, and does nothing once
        the writer is committed or aborted."""


class _Put(Protocol):
    def __call__(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> int: ...


class SpooledWriter(ObjectWriter):
    """The fallback for backends without a streaming writer of their own:
    chunks are spooled (in memory up to :data:`SPOOL_MEMORY`, then in a
    temporary file), and :meth:`commit` hands the spool to ``put``.

    :param put: the backend's :meth:`~flask_indox_media.StorageBackend.put`.
    """

    def __init__(
        self,
        put: _Put,
        key: str,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> None:
        super().__init__(key)
        self._put = put
        self._content_type = content_type
        self._metadata = dict(metadata or {})
        self._disposition = content_disposition
        self._cache_control = cache_control
        self._spool: Any = tempfile.SpooledTemporaryFile(
            max_size=SPOOL_MEMORY, prefix="indox-stream-"
        )

    def write(self, data: bytes) -> None:
        self._spool.write(data)
        self.size += len(data)

    def commit(self) -> int:
        try:
            self._spool.seek(0)
            return self._put(
                self.key,
                self._spool,
                content_type=self._content_type,
                metadata=self._metadata,
                content_disposition=self._disposition,
                cache_control=self._cache_control,
            )
        finally:
            self.closed = True
            self._spool.close()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._spool.close()
