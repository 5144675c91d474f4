"""What every benchmark shares: timing, a moto server process, streams."""

from __future__ import annotations

import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3

from flask_indox_media.testing import free_port, serve_process

MiB = 1024 * 1024
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in fh
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def per_call(fn: Callable[[], object], *, calls: int, rounds: int = 7) -> float:
    """Median seconds per call over ``rounds`` rounds of ``calls`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode, in a process of its own (its memory is not ours)."""
    port = free_port()
    with serve_process(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port
    ):
        yield f"http://127.0.0.1:{port}"


def bucket(endpoint: str, name: str) -> str:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS)
    client.create_bucket(Bucket=name)
    return name


class PatternStream(io.RawIOBase):
    """``size`` bytes made on the fly: a non-seekable stream that holds none of
    them, as an HTTP download is."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = bytes(range(256)) * 4096  # 1 MiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, len(self._block))
        buffer[:n] = self._block[:n]
        self._left -= n
        return n
