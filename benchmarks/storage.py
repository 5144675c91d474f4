"""Presigning cost, upload throughput and peak memory against raw boto3."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from datetime import UTC, datetime

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from flask_indox_media.storage.r2 import R2Backend

from .common import CREDS, MiB, PatternStream, bucket, moto_server, per_call


def presign(lines: list[str]) -> None:
    backend = R2Backend(
        "r2",
        bucket="media",
        region="auto",
        endpoint_url="https://acct.r2.cloudflarestorage.com",
        access_key_id="id",
        secret_access_key="secret",
        addressing_style="path",
    )
    client = backend.client
    key = "tts/42/2026/05/01/101500-req_7f3a.mp3"
    backend.presigned_url(key, expires_in=3600)  # warm both
    client.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": key})
    now = datetime.now(UTC)
    ours = per_call(
        lambda: backend.presigned_url(key, expires_in=3600, now=now), calls=2000
    )
    theirs = per_call(
        lambda: client.generate_presigned_url(
            "get_object", Params={"Bucket": "media", "Key": key}, ExpiresIn=3600
        ),
        calls=300,
    )
    lines += [
        "## Presigned URL generation (warm client, per URL)",
        "",
        "| | per URL | 100 URLs |",
        "|---|---:|---:|",
        f"| boto3 `generate_presigned_url` (baseline) | {theirs * 1e3:.3f} ms | {theirs * 1e5:.1f} ms |",
        f"| flask-indox-media `presigned_url` | {ours * 1e3:.4f} ms | {ours * 1e5:.2f} ms |",
        "",
        f"Ratio: **{ours / theirs:.3f}** of boto3's cost ({theirs / ours:.1f}x faster; "
        "target: at most 0.2). The URLs are byte-identical to botocore's for the same "
        "time (property test `tests/test_presign.py`).",
        "",
    ]


def uploads(lines: list[str]) -> None:
    lines += [
        "## Upload throughput to moto in server mode (separate process, loopback HTTP)",
        "",
        "A non-seekable stream, as a mirrored download is; the baseline is boto3's",
        "`upload_fileobj` with its default transfer settings on the same stream.",
        "",
        "Medians of 7 interleaved runs (3 at 100 MB).",
        "",
        "| size | raw boto3 | flask-indox-media | ratio (ours / boto3 time) |",
        "|---:|---:|---:|---:|",
    ]
    with moto_server() as endpoint:
        backend = R2Backend(
            "r2",
            bucket=bucket(endpoint, "bench-ours"),
            region="auto",
            endpoint_url=endpoint,
            access_key_id="bench",
            secret_access_key="bench",
            addressing_style="path",
        )
        raw = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(),
            **CREDS,
        )
        raw_bucket = bucket(endpoint, "bench-raw")
        for size_mb in (1, 10, 100):
            size = size_mb * MiB
            raw_times, our_times = [], []
            for _ in range(
                7 if size_mb < 100 else 3
            ):  # interleaved: both see the same noise
                start = time.perf_counter()
                raw.upload_fileobj(
                    PatternStream(size),
                    raw_bucket,
                    f"raw-{size_mb}",
                    Config=TransferConfig(),
                )
                raw_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                backend.put(
                    f"tts/u/{size_mb}.wav",
                    PatternStream(size),
                    content_type="audio/wav",
                )
                our_times.append(time.perf_counter() - start)
            t_raw, t_ours = statistics.median(raw_times), statistics.median(our_times)
            lines.append(
                f"| {size_mb} MB | {size / t_raw / MiB:.0f} MiB/s | "
                f"{size / t_ours / MiB:.0f} MiB/s | {t_ours / t_raw:.2f} |"
            )
        peak_raw = _peak(
            lambda: raw.upload_fileobj(PatternStream(100 * MiB), raw_bucket, "raw-mem")
        )
        peak_ours = _peak(
            lambda: backend.put(
                "tts/u/mem.wav", PatternStream(100 * MiB), content_type="audio/wav"
            )
        )
    lines += [
        "",
        "Peak Python memory (tracemalloc) while uploading a 100 MB stream:",
        f"raw boto3 {peak_raw / MiB:.0f} MiB, flask-indox-media **{peak_ours / MiB:.0f} MiB** "
        f"(ratio {peak_ours / peak_raw:.2f}); the object is never held whole: at most "
        "`INDOX_MEDIA_UPLOAD_CONCURRENCY` x `INDOX_MEDIA_MULTIPART_CHUNKSIZE` of it is.",
        "",
    ]


def _peak(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
