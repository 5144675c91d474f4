"""A 200 MB upload through the gateway's endpoint, served by gunicorn,
against a raw boto3 upload of the same file from disk."""

from __future__ import annotations

import itertools
import tempfile
import time
from typing import IO

import requests

from .common import (
    CREDS,
    MiB,
    PatternStream,
    bucket,
    children,
    gunicorn,
    interleave,
    judged,
    moto_server,
    pick,
    probe,
    reset_peak,
    runs_note,
    status,
    table,
)
from .common import field as column
from .mirror import MEMORY_GOAL_MIB

BOUNDARY = "benchboundary"


def _write_audio(out: IO[bytes], size: int) -> None:
    out.write(b"RIFF\0\0\0\0WAVE")
    stream = PatternStream(size - 12)
    while chunk := stream.read(MiB):
        out.write(chunk)


def upload(lines: list[str]) -> None:
    size_mb = pick(200, 50)
    size, runs = size_mb * MiB, 5
    with (
        tempfile.NamedTemporaryFile(suffix=".wav") as source,
        tempfile.NamedTemporaryFile() as body,
        moto_server() as endpoint,
    ):
        _write_audio(source, size)
        source.flush()
        # purpose before the file, as clients should send it: streamed, no spool
        body.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f"stt_input\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; "
            'name="file"; filename="big.wav"\r\n\r\n'.encode()
        )
        _write_audio(body, size)
        body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
        body.flush()
        raw_bucket = bucket(endpoint, "bench-upload-raw")
        served = {
            "INDOX_MEDIA_STORAGE_BACKEND": "r2",
            "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
            "INDOX_MEDIA_R2_BUCKET": bucket(endpoint, "bench-upload"),
            "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
            "INDOX_MEDIA_MAX_UPLOAD_BYTES": str(300 * MiB),
        }
        ids = itertools.count()
        with gunicorn("benchmarks.apps:gateway()", threads=2, env=served) as (
            base,
            master,
        ):
            (worker,) = children(master.pid)

            def ours() -> dict[str, float]:
                idle = status(worker)["VmRSS"]
                reset_peak(worker)
                start = time.perf_counter()
                with open(body.name, "rb") as fh:  # sent with its Content-Length
                    response = requests.post(
                        f"{base}/api/v1/resemble/uploads",
                        data=fh,
                        headers={
                            "Authorization": "Bearer demo-key",
                            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                        },
                        timeout=300,
                    )
                took = time.perf_counter() - start
                assert response.status_code == 201, response.text
                return {"seconds": took, "idle": idle, "peak": status(worker)["VmHWM"]}

            def raw() -> dict[str, float]:
                return probe(
                    "upload-raw",
                    endpoint=endpoint,
                    access_key=CREDS["aws_access_key_id"],
                    secret_key=CREDS["aws_secret_access_key"],
                    bucket=raw_bucket,
                    key=f"raw-{next(ids)}",
                    path=source.name,
                )

            ours()  # the worker's first request: imports, client, connections
            got = interleave(runs, raw=raw, ours=ours)
    lines += [
        f"## A {size_mb} MB upload through `POST /uploads` (R2 on moto, loopback HTTP)",
        "",
        "The gateway under gunicorn (1 `gthread` worker) receives the multipart body",
        "over HTTP, `purpose` first, so the file part streams as it arrives (no spool;",
        "the size limit checked as it streams), sniffs it, and uploads it in equal 8 MiB",
        "parts, 3 at a time; the time is the client's. Baseline: boto3 `upload_fileobj`",
        "of the same file from disk, in a fresh process (10 parts at a time). Memory:",
        "the serving worker's (or the baseline process's) peak RSS over its RSS just",
        "before, the peak reset through `/proc/<pid>/clear_refs`.",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                "time",
                column(got["ours"], "seconds"),
                column(got["raw"], "seconds"),
                "s",
                "ratio",
                at_most=1.10,
            ),
            judged(
                "peak RSS over idle",
                [(r["peak"] - r["idle"]) / MiB for r in got["ours"]],
                [(r["peak"] - r["idle"]) / MiB for r in got["raw"]],
                "MiB",
                "value",
                at_most=MEMORY_GOAL_MIB,
            ),
        ],
    )
