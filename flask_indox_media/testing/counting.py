"""Counting what the gateway sends: S3 requests by operation, Redis round
trips. Counts are deterministic, so tests assert them and benchmarks print them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.connection import AbstractConnection


@contextmanager
def s3_requests(client: Any) -> Iterator[Counter[str]]:
    """Count the HTTP requests ``client`` (a boto3 S3 client) sends, by
    operation name (``PutObject``, ``UploadPart``...), retries included: the
    ``before-send`` event fires once per attempt."""
    counts: Counter[str] = Counter()

    def record(event_name: str, **_: Any) -> None:
        counts[event_name.rsplit(".", 1)[1]] += 1

    client.meta.events.register("before-send.s3", record)
    try:
        yield counts
    finally:
        client.meta.events.unregister("before-send.s3", record)


@contextmanager
def redis_round_trips() -> Iterator[list[int]]:
    """Count the round trips to Redis of every connection in this process.

    A single command and a whole pipeline each go out in one
    ``send_packed_command``, so its calls are the round trips. The count is
    the list's one item, updated while the block runs.
    """
    count = [0]
    original: Any = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        count[0] += 1
        original(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
