"""Multipart uploads sent part by part, so the completion can be conditional,
and :class:`MultipartWriter`, the S3 backends' streaming writer.

boto3's ``upload_fileobj`` cannot carry ``IfNoneMatch`` (s3transfer's
``ALLOWED_UPLOAD_ARGS`` lacks it), and without it a write over the threshold
could not be its own existence check. Memory stays bounded: at most
``concurrency`` part buffers exist, each reused once its part is sent, and the
reader waits for a free one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import StorageError
from .streams import BufferReader, ReadsInto, fill
from .writers import ObjectWriter

logger = logging.getLogger("flask_indox_media")

#: ``{"ETag": ..., "PartNumber": ...}``, as CompleteMultipartUpload takes it.
Part = dict[str, Any]


def upload_multipart(
    client: Any,
    bucket: str,
    key: str,
    stream: ReadsInto,
    *,
    part_size: int,
    concurrency: int,
    extra: Mapping[str, Any],
    condition: Mapping[str, str],
    first: Sequence[memoryview] = (),
) -> None:
    """Upload ``stream`` to ``bucket``/``key`` in parts of ``part_size`` bytes
    (the last one shorter), ``concurrency`` at a time, completed with
    ``condition`` (``{"IfNoneMatch": "*"}`` or nothing). Any failure, the
    condition's included, aborts the upload so no part is left billed.

    :param extra: CreateMultipartUpload's arguments (``ContentType``,
        ``Metadata``, and ``ContentDisposition`` and ``CacheControl`` when set:
        an object's headers are fixed when its upload is created).
    :param first: the first parts, already read (``part_size`` bytes each,
        views of the caller's look-ahead); they join the reused buffers, so
        the look-ahead costs no copy.
    :raises BotoCoreError, ClientError: as boto3 raised them (a failed
        condition is a ``ClientError`` with the code ``PreconditionFailed``).
    """
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **extra)[
        "UploadId"
    ]
    try:
        parts = _send_parts(
            client, bucket, key, upload_id, stream, part_size, concurrency, first
        )
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **condition,
        )
    except BaseException:
        _abort(client, bucket, key, upload_id)
        raise


def _send_parts(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    stream: ReadsInto,
    part_size: int,
    concurrency: int,
    first: Sequence[memoryview],
) -> list[Part]:
    free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
    made = len(first)
    futures: list[Future[Part]] = []
    # Set by a part that failed: reading stops. (Scanning every future for a
    # failure before each part was quadratic in the number of parts.)
    failed = threading.Event()

    def send(number: int, buffer: memoryview, size: int) -> Part:
        body = BufferReader(buffer, size)
        try:
            response = client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=size,
            )
            return {"ETag": response["ETag"], "PartNumber": number}
        except BaseException:
            failed.set()
            raise
        finally:
            body.close()
            free.put(buffer)

    with ThreadPoolExecutor(concurrency, thread_name_prefix="indox-upload") as pool:
        for number, buffer in enumerate(first, 1):
            futures.append(pool.submit(send, number, buffer, len(buffer)))
        while not failed.is_set():
            # Buffers are made as needed, up to the concurrency, so a small
            # multipart object does not allocate them all.
            if free.empty() and made < concurrency:
                free.put(memoryview(bytearray(part_size)))
                made += 1
            buffer = free.get()
            # readinto straight into the part's buffer: no chunk is joined,
            # sliced or copied on the way.
            size = fill(stream, buffer)
            if size == 0 and futures:
                break  # the stream ended on a part boundary
            futures.append(pool.submit(send, len(futures) + 1, buffer, size))
            if size < part_size:
                break
    return [f.result() for f in futures]  # raises the first failure


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (BotoCoreError, ClientError) as exc:
        # The bucket's lifecycle rule (AbortIncompleteMultipartUpload) cleans
        # up what this could not.
        logger.warning(
            "indox-media: abort of the upload of %s failed: %s",
            key,
            type(exc).__name__,
        )


class MultipartWriter(ObjectWriter):
    """An object sent as it is written, holding at most one part in memory.

    Bytes collect in one buffer; each time it holds ``part_size`` bytes, that
    part is sent (UploadPart, in the writing thread: a second buffer would
    double the memory) and the buffer is reused. The multipart upload is
    created with the first full part, so an object smaller than one part is
    one PutObject on commit and never leaves an incomplete upload. Any failure,
    and :meth:`abort`, aborts the upload: no part is left billed.

    Memory: one part (``part_size``) plus the chunk being written.

    :param fail: turns a boto3 error into the backend's
        :class:`~flask_indox_media.StorageError` (``fail(exc, action, key)``).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        part_size: int,
        extra: Mapping[str, Any],
        fail: Callable[[Exception, str, str], StorageError],
    ) -> None:
        super().__init__(key)
        self._client = client
        self._bucket = bucket
        self._part_size = part_size
        self._extra = dict(extra)
        self._fail = fail
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Part] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        try:
            while len(self._buffer) >= self._part_size:
                self._send(self._part_size)
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise self._fail(exc, "upload part of", self.key) from exc

    def _send(self, size: int) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self.key, **self._extra
            )["UploadId"]
        number = len(self._parts) + 1
        with BufferReader(self._buffer, size) as body:
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=size,
            )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})
        del self._buffer[:size]

    def commit(self) -> int:
        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self.key,
                    Body=bytes(self._buffer),
                    **self._extra,
                )
            else:
                if self._buffer:
                    self._send(len(self._buffer))
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise self._fail(exc, "put", self.key) from exc
        self.closed = True
        self._buffer = bytearray()
        return self.size

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            _abort(self._client, self._bucket, self.key, self._upload_id)
