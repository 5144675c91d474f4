"""Streaming synthesis, teed to the bucket: the caller gets Resemble's
chunked audio as it arrives while the same bytes go, chunk by chunk, to the
asset's object through a streaming writer
(:meth:`StorageBackend.open_writer <flask_indox_media.StorageBackend.open_writer>`).

What becomes of the object:

* the stream runs to its end: the object is committed, whole;
* the caller disconnects before the end: the rest is still read from
  Resemble and written, then committed. The caller already holds the asset's
  id and ``audio_url`` (sent as headers before the first byte) and the
  synthesis is paid for, so the link it was given keeps its promise. Bounded:
  by :data:`~flask_indox_media.config.INDOX_MEDIA_MAX_ASSET_BYTES` and by the
  upstream's read timeout between two chunks;
* Resemble's stream breaks (cut, timeout), the audio grows past the size
  limit, or the storage fails: the object is aborted (no object, no incomplete
  multipart upload). A storage failure does not cut the caller's stream; an
  upstream failure does (the connection closes without the last chunk, so the
  caller sees a truncated body, not a short one that looks whole).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from ..assets import Asset
from ..exceptions import StorageError, UpstreamError
from ..signals import asset_mirrored, mirror_failed
from ..storage.writers import ObjectWriter
from .replicate import replicate_later

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: The most a single read from Resemble returns; a read returns what has
#: arrived, so a small chunk is passed on at once rather than waiting for more.
READ_SIZE = 64 * 1024
_UPSTREAM_ERRORS = (requests.RequestException, Urllib3Error, OSError)


def arriving(raw: Any, size: int = READ_SIZE) -> Iterator[bytes]:
    """The bytes of a streamed ``requests`` response's ``raw`` body as they
    arrive (``read1``: chunked or not, never waits to fill ``size``), decoded
    if the upstream compressed them."""
    while chunk := raw.read1(size, decode_content=True):
        yield chunk


class Tee:
    """The caller's response body (a WSGI iterable): the upstream's chunks, as
    they arrive, each also written to ``writer``.

    A chunk goes to the caller first and to the bucket when the next one is
    asked for, so the bucket never delays a byte. The object is committed
    when the upstream's body ends, before the server ends the caller's; the
    WSGI server's :meth:`close` settles it otherwise (see the module's
    docstring).

    :param upstream: Resemble's streamed response; closed by :meth:`close`.
    :param limit: the largest object kept, in bytes.
    """

    def __init__(
        self,
        state: IndoxMediaState,
        asset: Asset,
        upstream: requests.Response,
        writer: ObjectWriter,
        *,
        limit: int,
    ) -> None:
        self._state = state
        self._asset = asset
        self._upstream = upstream
        self._chunks = arriving(upstream.raw)
        self._writer: ObjectWriter | None = writer
        self._limit = limit
        self._pending = b""  # given to the caller, not written yet
        self._ended = False  # the upstream's body was read to its end
        self._closed = False
        self._start = time.perf_counter()

    def __iter__(self) -> Tee:
        return self

    def __next__(self) -> bytes:
        self._write_pending()
        try:
            chunk = next(self._chunks)
        except StopIteration:
            # Committed before the caller sees the end of the body: once it
            # has the whole stream, audio_url serves it.
            self._ended = True
            self._settle()
            raise
        except _UPSTREAM_ERRORS as exc:
            self._abandon(exc)
            raise UpstreamError("Resemble's stream broke off") from exc
        self._pending = chunk
        return chunk

    def close(self) -> None:
        """Settle the object: commit after the whole stream, else read the
        rest first (the caller left); abort when that cannot be done."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._ended and self._writer is not None:
                self._drain()
            self._settle()
        finally:
            self._upstream.close()

    def _drain(self) -> None:
        logger.info(
            "indox-media: the caller left %s early; reading the rest",
            self._asset.key,
        )
        self._write_pending()
        try:
            for chunk in self._chunks:
                if self._writer is None:
                    return  # nothing will be kept: stop reading
                self._write(chunk)
        except _UPSTREAM_ERRORS as exc:
            self._abandon(exc)
            return
        self._ended = True

    def _write_pending(self) -> None:
        chunk, self._pending = self._pending, b""
        if chunk:
            self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        writer = self._writer
        if writer is None:
            return
        if writer.size + len(chunk) > self._limit:
            self._abandon(None, "AssetTooLargeError")
            return
        try:
            writer.write(chunk)
        except StorageError as exc:
            self._abandon(exc)

    def _settle(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if not self._ended:
            writer.abort()
            return
        try:
            size = writer.commit()
        except StorageError as exc:
            self._failed(type(exc).__name__)
            return
        seconds = time.perf_counter() - self._start
        asset = self._asset
        asset_mirrored.send(
            self._state,
            key=asset.key,
            asset_class=asset.asset_class,
            size=size,
            seconds=seconds,
            skipped=False,
        )
        logger.info(
            "indox-media: streamed %s (%d bytes, %.3fs)", asset.key, size, seconds
        )
        replicate_later(self._state, asset)

    def _abandon(self, exc: Exception | None, reason: str | None = None) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
            self._failed(reason or type(exc).__name__)

    def _failed(self, error: str) -> None:
        logger.warning(
            "indox-media: the streamed object %s was not kept: %s",
            self._asset.key,
            error,
        )
        mirror_failed.send(
            self._state,
            key=self._asset.key,
            asset_class=self._asset.asset_class,
            error=error,
        )
