"""The S3 family's transfer settings (shared by S3 and R2): their keys,
defaults and validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from ..config import integer

MiB = 1024 * 1024
#: R2 and S3 refuse multipart parts smaller than this (but the last).
MIN_PART_SIZE = 5 * MiB
#: Transfer keys shared by the S3 and R2 backends.
TRANSFER_DEFAULTS = {
    "INDOX_MEDIA_MULTIPART_THRESHOLD": 16 * MiB,
    "INDOX_MEDIA_MULTIPART_CHUNKSIZE": 8 * MiB,
    "INDOX_MEDIA_MAX_POOL_CONNECTIONS": 10,
    "INDOX_MEDIA_UPLOAD_CONCURRENCY": 3,
}


class TransferOptions(TypedDict):
    multipart_threshold: int
    multipart_chunksize: int
    max_pool_connections: int
    upload_concurrency: int


def transfer_options(config: Mapping[str, Any]) -> TransferOptions:
    chunk = integer(config, "INDOX_MEDIA_MULTIPART_CHUNKSIZE", MIN_PART_SIZE)
    return {
        "multipart_threshold": integer(
            config, "INDOX_MEDIA_MULTIPART_THRESHOLD", chunk
        ),
        "multipart_chunksize": chunk,
        "max_pool_connections": integer(config, "INDOX_MEDIA_MAX_POOL_CONNECTIONS", 1),
        "upload_concurrency": integer(config, "INDOX_MEDIA_UPLOAD_CONCURRENCY", 1),
    }
