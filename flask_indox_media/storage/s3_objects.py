"""What the S3 backend's object calls send and get back: the arguments of
PutObject and CreateMultipartUpload, the ObjectInfo of a HEAD or GET, and the
look-ahead that decides between one PutObject and a multipart upload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ObjectInfo
from .streams import Counted, fill


def object_info(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    """What a GetObject or HeadObject answer says of the object."""
    return ObjectInfo(
        key=key,
        size=int(response["ContentLength"]),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
        metadata=response.get("Metadata") or {},
        content_disposition=response.get("ContentDisposition"),
        cache_control=response.get("CacheControl"),
    )


def object_args(
    content_type: str,
    metadata: Mapping[str, str] | None,
    content_disposition: str | None,
    cache_control: str | None,
) -> dict[str, Any]:
    """PutObject's and CreateMultipartUpload's arguments for an object's type,
    metadata and download headers."""
    args: dict[str, Any] = {
        "ContentType": content_type,
        "Metadata": dict(metadata or {}),
    }
    if content_disposition:
        args["ContentDisposition"] = content_disposition
    if cache_control:
        args["CacheControl"] = cache_control
    return args


#: The first read of a put: a small object costs no more memory than this.
_FIRST_READ = 1024 * 1024


def read_head(source: Counted, threshold: int) -> tuple[bytearray, int]:
    """Up to ``threshold`` bytes of ``source`` in a buffer of that size (or
    less, when the stream ends sooner), and how many there are.

    The buffer doubles from the first MiB as long as the stream fills it, so
    an object of a few MiB does not pay for the zeroing (page faults) of a
    threshold-sized buffer it does not use."""
    head = bytearray(min(threshold, _FIRST_READ))
    size = 0
    while True:
        with memoryview(head) as view:
            size += fill(source, view[size:])
        if size < len(head) or size == threshold:
            return head, size
        # bytes() of zeros is calloc'd: growing costs one copy of the zeros.
        head.extend(bytes(min(len(head), threshold - len(head))))
