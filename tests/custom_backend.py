"""A user-supplied backend, as the docs' "write your own backend" page shows."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

from flask_indox_media import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    StorageBackend,
)
from flask_indox_media.config import Settings, integer


class MemoryBackend(StorageBackend):
    config_defaults: ClassVar[Mapping[str, Any]] = {"INDOX_MEDIA_MEMORY_CAPACITY": 1000}

    def __init__(self, name: str, *, capacity: int) -> None:
        super().__init__(name)
        self.capacity = capacity
        self.objects: dict[
            str, tuple[bytes, str, dict[str, str], dict[str, str | None]]
        ] = {}

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], name: str, settings: Settings
    ) -> StorageBackend:
        return cls(name, capacity=integer(config, "INDOX_MEDIA_MEMORY_CAPACITY", 1))

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
        if if_absent and key in self.objects:
            raise ObjectExistsError(f"{self.name}: {key} exists")
        data = stream.read()
        headers = {"disposition": content_disposition, "cache": cache_control}
        self.objects[key] = (data, content_type, dict(metadata or {}), headers)
        return len(data)

    def open(self, key: str) -> BinaryIO:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return io.BytesIO(self.objects[key][0])

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        return f"memory://{key}?expires_in={expires_in}"

    def head(self, key: str) -> ObjectInfo | None:
        if key not in self.objects:
            return None
        data, content_type, metadata, headers = self.objects[key]
        return ObjectInfo(
            key=key,
            size=len(data),
            content_type=content_type,
            metadata=metadata,
            content_disposition=headers["disposition"],
            cache_control=headers["cache"],
        )

    def list_objects(
        self, prefix: str, *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix) and (start_after is None or key > start_after):
                info = self.head(key)
                assert info is not None
                yield info

    def _delete_batch(self, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)
