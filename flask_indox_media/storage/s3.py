"""The S3 backend: AWS S3 and any S3-compatible API (R2 builds on it in
:mod:`~flask_indox_media.storage.r2`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import required
from ..exceptions import (
    ConfigurationError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageError,
)
from .base import ObjectInfo, StorageBackend
from .multipart import MultipartWriter, upload_multipart
from .presign import FastPresigner
from .rules import BucketRulesMixin
from .s3_config import TRANSFER_DEFAULTS, transfer_options
from .s3_objects import object_args, object_info, read_head
from .streams import BufferReader, Counted, HeadFirst
from .writers import ObjectWriter

if TYPE_CHECKING:
    from ..config import Settings

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class _Shared:
    """The boto3 session, client and presigner of one process."""

    def __init__(self, pid: int, session: Any, client: Any) -> None:
        self.pid = pid
        self.session = session
        self.client = client
        self.presigner: FastPresigner | None = None


class S3Backend(BucketRulesMixin, StorageBackend):
    """Objects in an S3 bucket, through boto3. The client is made lazily, one
    per process shared by its threads (boto3 clients are thread-safe), made
    anew in a forked child, and dropped when the backend is pickled."""

    def __init__(
        self,
        name: str,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 16 * 1024 * 1024,
        multipart_chunksize: int = 8 * 1024 * 1024,
        max_pool_connections: int = 10,
        upload_concurrency: int = 3,
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
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.upload_concurrency = upload_concurrency
        # No endpoint is AWS, over https.
        self._https = not endpoint_url or endpoint_url.lower().startswith("https:")
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._shared: _Shared | None = None

    config_defaults: ClassVar[Mapping[str, Any]] = {
        "INDOX_MEDIA_S3_BUCKET": None,
        "INDOX_MEDIA_S3_REGION": "us-east-1",
        "INDOX_MEDIA_S3_ENDPOINT_URL": None,
        "INDOX_MEDIA_S3_ACCESS_KEY_ID": None,
        "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": None,
        **TRANSFER_DEFAULTS,
    }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], name: str, settings: Settings
    ) -> StorageBackend:
        return cls(
            name,
            bucket=required(
                config, "INDOX_MEDIA_S3_BUCKET", "when the s3 backend is in use"
            ),
            region=str(config["INDOX_MEDIA_S3_REGION"]),
            endpoint_url=config["INDOX_MEDIA_S3_ENDPOINT_URL"] or None,
            access_key_id=config["INDOX_MEDIA_S3_ACCESS_KEY_ID"] or None,
            secret_access_key=config["INDOX_MEDIA_S3_SECRET_ACCESS_KEY"] or None,
            **transfer_options(config),
        )

    @classmethod
    def configured_by(cls, config: Mapping[str, Any]) -> str | None:
        return "INDOX_MEDIA_S3_BUCKET" if config.get("INDOX_MEDIA_S3_BUCKET") else None

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> None:
        transfer_options(config)
        if bool(config.get("INDOX_MEDIA_S3_ACCESS_KEY_ID")) != bool(
            config.get("INDOX_MEDIA_S3_SECRET_ACCESS_KEY")
        ):
            raise ConfigurationError(
                "INDOX_MEDIA_S3_ACCESS_KEY_ID and INDOX_MEDIA_S3_SECRET_ACCESS_KEY "
                "go together: set both, or neither to use boto3's credential chain",
                key="INDOX_MEDIA_S3_SECRET_ACCESS_KEY",
            )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} bucket={self.bucket!r} "
            f"endpoint={self.endpoint_url!r}>"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"], state["_shared"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._shared = None

    def botocore_config(self) -> Config:
        return Config(
            signature_version="s3v4",
            max_pool_connections=self._max_pool_connections,
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=10,
            read_timeout=60,
            s3=cast(
                Any,
                {
                    "addressing_style": self._addressing_style,
                    # Without a checksum header (checksums "when_required"
                    # below) botocore SHA-256s every body, https or not: a
                    # second pass over each part, a third of a core at 200
                    # MB/s. Over TLS the channel already guards the body, so
                    # UNSIGNED-PAYLOAD; over plain http the signature is the
                    # body's only integrity check, and it stays.
                    "payload_signing_enabled": not self._https,
                },
            ),
            # boto3 >= 1.36 otherwise adds CRC checksums (and aws-chunked
            # uploads) to every call, which R2 rejects on some of them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def _state(self) -> _Shared:
        shared = self._shared
        pid = os.getpid()
        if shared is not None and shared.pid == pid:
            return shared
        # A forked child must not share its parent's sockets; and one client
        # per process rather than per thread: building one costs ~100 ms, which
        # each new werkzeug thread would otherwise pay.
        if self._lock_pid != pid:
            # A lock held by a parent's thread at fork time stays held here.
            self._lock, self._lock_pid = threading.Lock(), pid
        with self._lock:
            shared = self._shared
            if shared is None or shared.pid != pid:
                # A parent's session is kept: it holds botocore's loaded models
                # (~100 ms to load), so a forked work horse builds its client
                # in ~10 ms. Only the client, with its sockets, is new.
                session = (
                    shared.session
                    if shared is not None
                    else boto3.session.Session(
                        aws_access_key_id=self._access_key_id,
                        aws_secret_access_key=self._secret_access_key,
                        region_name=self.region,
                    )
                )
                client = session.client(
                    "s3", endpoint_url=self.endpoint_url, config=self.botocore_config()
                )
                shared = self._shared = _Shared(pid, session, client)
        return shared

    @property
    def client(self) -> Any:
        """This process's boto3 S3 client (shared by its threads)."""
        return self._state().client

    def warm(self) -> None:
        self._state()

    def _fail(
        self, exc: Exception, action: str, key: str | None = None
    ) -> StorageError:
        where = f"{self.bucket}/{key}" if key else self.bucket
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND:
                return ObjectNotFoundError(f"{self.name}: {where} not found")
            if code == "PreconditionFailed":  # only conditional writes send one
                return ObjectExistsError(f"{self.name}: {where} exists")
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
        if_absent: bool = False,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> int:
        """Below the multipart threshold one PutObject, else CreateMultipartUpload,
        the parts and CompleteMultipartUpload. ``if_absent`` sends
        ``If-None-Match: *`` with the PutObject or the completion, and S3's
        412 becomes :class:`~flask_indox_media.ObjectExistsError`. The download
        headers are the object's ``ContentDisposition`` and ``CacheControl``."""
        source = Counted(stream)
        extra = object_args(content_type, metadata, content_disposition, cache_control)
        condition = {"IfNoneMatch": "*"} if if_absent else {}
        threshold, part_size = self.multipart_threshold, self.multipart_chunksize
        try:
            head, size = read_head(source, threshold)
            # Below the threshold, one request: threads cost more than such an
            # object takes to send.
            if size < threshold:
                body = BufferReader(head, size)
                try:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentLength=size,
                        **extra,
                        **condition,
                    )
                finally:
                    body.close()
                return size
            # The look-ahead is the first parts when it holds whole ones (the
            # defaults: two): they are sent from it, no copy made.
            whole = threshold % part_size == 0
            view = memoryview(head)
            upload_multipart(
                self.client,
                self.bucket,
                key,
                source if whole else HeadFirst(head, size, source),
                part_size=part_size,
                concurrency=self.upload_concurrency,
                extra=extra,
                condition=condition,
                first=[view[at : at + part_size] for at in range(0, size, part_size)]
                if whole
                else (),
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "put", key) from exc
        return source.count

    def open_writer(
        self,
        key: str,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> ObjectWriter:
        """A multipart upload in parts of ``INDOX_MEDIA_MULTIPART_CHUNKSIZE``,
        one part in memory at a time (one PutObject when the object is smaller
        than a part)."""
        return MultipartWriter(
            self.client,
            self.bucket,
            key,
            part_size=self.multipart_chunksize,
            extra=object_args(
                content_type, metadata, content_disposition, cache_control
            ),
            fail=self._fail,
        )

    def open(self, key: str) -> BinaryIO:
        return self.open_with_info(key)[0]

    def open_with_info(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "get", key) from exc
        return cast(BinaryIO, response["Body"]), object_info(key, response)

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
        return object_info(key, response)

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
