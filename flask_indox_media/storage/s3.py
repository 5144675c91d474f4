"""The S3 backend (AWS S3 and any S3-compatible API) and R2, which is S3 plus its
endpoint, region ``auto`` and checksum defaults."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypedDict, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import ObjectNotFoundError, StorageError
from .base import ObjectInfo, StorageBackend
from .presign import FastPresigner

if TYPE_CHECKING:
    from ..config import Settings

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class _FullReads:
    """Reads that return ``size`` bytes unless the stream ends, and a count.

    s3transfer makes one part of each read of a non-seekable stream; a socket
    that returns short reads would give unequal parts, which R2 refuses.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self._stream.read()
        else:
            chunks: list[bytes] = []
            wanted = size
            while wanted > 0:
                chunk = self._stream.read(wanted)
                if not chunk:
                    break
                chunks.append(chunk)
                wanted -= len(chunk)
            data = b"".join(chunks)
        self.count += len(data)
        return data


class _Prefixed:
    """``head`` and then the rest of ``reader``, as one stream."""

    def __init__(self, head: bytes, reader: _FullReads) -> None:
        self._head = head
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._reader.read(size)
        if size is None or size < 0:
            data, self._head = self._head + self._reader.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._reader.read(size - len(data))
        return data


class S3Backend(StorageBackend):
    """Objects in an S3 bucket, through boto3.

    The client is created lazily, once per thread and process, and dropped when
    the backend is pickled.
    """

    def __init__(
        self,
        name: str,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 8 * 1024 * 1024,
        multipart_chunksize: int = 8 * 1024 * 1024,
        max_pool_connections: int = 10,
        upload_concurrency: int = 4,
        addressing_style: str = "auto",
    ) -> None:
        super().__init__(name)
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._addressing_style = addressing_style
        self._max_pool_connections = max_pool_connections
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=upload_concurrency,
        )
        # A non-seekable stream is read ahead by this many parts: bound it to
        # the concurrency so memory stays near concurrency x part size.
        self._transfer.max_in_memory_upload_chunks = upload_concurrency
        self._local = threading.local()

    @classmethod
    def from_config(cls, settings: Settings, name: str) -> StorageBackend:
        return cls(
            name,
            bucket=cast(str, settings.s3_bucket),
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            **_transfer_options(settings),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} bucket={self.bucket!r}>"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def botocore_config(self) -> Config:
        return Config(
            signature_version="s3v4",
            max_pool_connections=self._max_pool_connections,
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=10,
            read_timeout=60,
            s3=cast(Any, {"addressing_style": self._addressing_style}),
            # boto3 >= 1.36 otherwise adds CRC checksums (and aws-chunked
            # uploads) to every call, which R2 rejects on some of them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def _state(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            session = boto3.session.Session(
                aws_access_key_id=self._access_key_id,
                aws_secret_access_key=self._secret_access_key,
                region_name=self.region,
            )
            local.client = session.client(
                "s3", endpoint_url=self.endpoint_url, config=self.botocore_config()
            )
            local.session = session
            local.presigner = None
            local.pid = os.getpid()
        return local

    @property
    def client(self) -> Any:
        """This thread's boto3 S3 client."""
        return self._state().client

    def _fail(
        self, exc: Exception, action: str, key: str | None = None
    ) -> StorageError:
        where = f"{self.bucket}/{key}" if key else self.bucket
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND:
                return ObjectNotFoundError(f"{self.name}: {where} not found")
            return StorageError(f"{self.name}: {action} {where} failed: {code}")
        return StorageError(
            f"{self.name}: {action} {where} failed: {type(exc).__name__}"
        )

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        reader = _FullReads(stream)
        extra = {"ContentType": content_type, "Metadata": dict(metadata or {})}
        threshold = self._transfer.multipart_threshold
        try:
            # Below the multipart threshold, one PutObject: the transfer
            # manager's threads cost more than such an object takes to send.
            head = reader.read(threshold)
            if len(head) < threshold:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=head, **extra)
                return len(head)
            self.client.upload_fileobj(
                _Prefixed(head, reader),
                self.bucket,
                key,
                ExtraArgs=extra,
                Config=self._transfer,
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "put", key) from exc
        except Exception as exc:  # s3transfer wraps some errors in its own types
            if isinstance(exc.__cause__, BotoCoreError | ClientError):
                raise self._fail(exc.__cause__, "put", key) from exc
            raise
        return reader.count

    def open(self, key: str) -> BinaryIO:
        return self.open_with_info(key)[0]

    def open_with_info(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "get", key) from exc
        info = ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata") or {},
        )
        return cast(BinaryIO, response["Body"]), info

    def _presigner(self) -> FastPresigner:
        state = self._state()
        if state.presigner is None:
            try:
                state.presigner = FastPresigner(
                    state.client, state.session.get_credentials(), self.bucket
                )
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(exc, "presign") from exc
        presigner: FastPresigner = state.presigner
        return presigner

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        presigner = self._presigner()
        url: str = presigner.url(
            key,
            expires_in=expires_in,
            response_content_type=response_content_type,
            response_content_disposition=response_content_disposition,
            now=now,
        )
        return url

    def key_from_url(self, url: str) -> str | None:
        try:
            presigner = self._presigner()
        except StorageError:
            return None
        return presigner.key_from_url(url)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            error = self._fail(exc, "head", key)
            if isinstance(error, ObjectNotFoundError):
                return None
            raise error from exc
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata") or {},
        )

    def list_objects(
        self, prefix: str, *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                **kwargs, PaginationConfig={"PageSize": page_size}
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=int(item["Size"]),
                        last_modified=item["LastModified"],
                    )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "list", prefix) from exc

    def _delete_batch(self, keys: list[str]) -> None:
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "delete", keys[0]) from exc
        errors = response.get("Errors") or []
        if errors:
            raise StorageError(
                f"{self.name}: {len(errors)} of {len(keys)} deletes failed, first: "
                f"{errors[0].get('Key')} ({errors[0].get('Code')})"
            )

    # Bucket configuration, for the operations commands --------------------------

    def _config_call(self, action: str, fn: Any, missing: str, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self._fail(exc, action) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, action) from exc

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        """The bucket's lifecycle rules (all of them, ours or not)."""
        response = self._config_call(
            "get lifecycle of",
            self.client.get_bucket_lifecycle_configuration,
            "NoSuchLifecycleConfiguration",
        )
        return list(response["Rules"]) if response else []

    def put_lifecycle_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the bucket's whole lifecycle configuration with ``rules``."""
        if rules:
            self._config_call(
                "put lifecycle of",
                self.client.put_bucket_lifecycle_configuration,
                "",
                LifecycleConfiguration={"Rules": rules},
            )
        else:
            self._config_call(
                "delete lifecycle of", self.client.delete_bucket_lifecycle, ""
            )

    def cors_rules(self) -> list[dict[str, Any]]:
        """The bucket's CORS rules."""
        response = self._config_call(
            "get CORS of", self.client.get_bucket_cors, "NoSuchCORSConfiguration"
        )
        return list(response["CORSRules"]) if response else []

    def put_cors_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the bucket's whole CORS configuration with ``rules``."""
        if rules:
            self._config_call(
                "put CORS of",
                self.client.put_bucket_cors,
                "",
                CORSConfiguration={"CORSRules": rules},
            )
        else:
            self._config_call("delete CORS of", self.client.delete_bucket_cors, "")

    def check_bucket(self) -> None:
        """HEAD the bucket.

        :raises StorageError: it is unreachable, missing or forbidden.
        """
        self._config_call("head", self.client.head_bucket, "")


class R2Backend(S3Backend):
    """Cloudflare R2: the S3 backend with R2's endpoint, region ``auto``, path-style
    addressing, and checksums only where an operation requires them."""

    @classmethod
    def from_config(cls, settings: Settings, name: str) -> StorageBackend:
        return cls(
            name,
            bucket=cast(str, settings.r2_bucket),
            region="auto",
            endpoint_url=settings.r2_endpoint,
            access_key_id=settings.r2_access_key_id,
            secret_access_key=settings.r2_secret_access_key,
            addressing_style="path",
            **_transfer_options(settings),
        )


class _TransferOptions(TypedDict):
    multipart_threshold: int
    multipart_chunksize: int
    max_pool_connections: int
    upload_concurrency: int


def _transfer_options(settings: Settings) -> _TransferOptions:
    return {
        "multipart_threshold": settings.multipart_threshold,
        "multipart_chunksize": settings.multipart_chunksize,
        "max_pool_connections": settings.max_pool_connections,
        "upload_concurrency": settings.upload_concurrency,
    }
