"""Presigning cost, upload throughput and peak memory against raw boto3."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from flask_indox_media.storage.r2 import R2Backend

from .common import (
    CREDS,
    MiB,
    PatternStream,
    bucket,
    interleave,
    judged,
    moto_server,
    per_call,
    pick,
    runs_note,
    scaled,
    seconds,
    table,
)


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
    runs = 5
    got = interleave(
        runs,
        boto3=per_call(
            lambda: client.generate_presigned_url(
                "get_object", Params={"Bucket": "media", "Key": key}, ExpiresIn=3600
            ),
            pick(300, 100),
        ),
        ours=per_call(
            lambda: backend.presigned_url(key, expires_in=3600, now=now),
            pick(2000, 500),
        ),
    )
    lines += [
        "## Presigned URL generation (warm client, per URL)",
        "",
        "Ours: `presigned_url`; baseline: boto3 `generate_presigned_url`. The URLs are",
        "byte-identical to botocore's for the same time (property test",
        "`tests/test_presign.py`).",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                "per URL",
                scaled(got["ours"], 1e3),
                scaled(got["boto3"], 1e3),
                "ms",
                "ratio",
                at_most=0.2,
            )
        ],
    )


def _download_like(size: int) -> io.BufferedReader:
    """``size`` bytes that fill every read, as urllib3's response does (a
    bare :class:`PatternStream` returns at most 1 MiB a read: boto3 then takes
    a 10 MB stream for a small one and buffers all of it for one PutObject)."""
    return io.BufferedReader(PatternStream(size), MiB)


def uploads(lines: list[str]) -> None:
    runs = 5
    rows = []
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
        for size_mb in pick((1, 10, 100), (1, 10)):
            size = size_mb * MiB
            got = interleave(
                runs,
                raw=seconds(
                    lambda size=size, mb=size_mb: raw.upload_fileobj(
                        _download_like(size),
                        raw_bucket,
                        f"raw-{mb}",
                        Config=TransferConfig(),
                    )
                ),
                ours=seconds(
                    lambda size=size, mb=size_mb: backend.put(
                        f"tts/u/{mb}.wav",
                        _download_like(size),
                        content_type="audio/wav",
                    )
                ),
            )
            rows.append(
                judged(
                    f"{size_mb} MB", got["ours"], got["raw"], "s", "ratio", at_most=1.10
                )
            )
    lines += [
        "## Upload of a stream to moto in server mode (separate process, loopback HTTP)",
        "",
        "A non-seekable stream whose reads are filled, as a mirrored download's are",
        "(urllib3): the backend's `put` against boto3's `upload_fileobj` with its",
        "default transfer settings on the same stream. Both send multipart uploads in",
        "8 MiB parts; ours sends one PutObject below 16 MiB, boto3 below 8 MiB.",
        "Memory is measured per process in the mirror section below.",
        runs_note(runs),
        "",
    ]
    table(lines, rows)
