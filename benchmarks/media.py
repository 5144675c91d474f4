"""A 200 MB upload through the gateway's endpoint, served by gunicorn,
against a raw boto3 upload of the same file from disk."""

from __future__ import annotations

import itertools
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
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


def _form(out: IO[bytes], size: int) -> None:
    """A form body with ``purpose`` before a ``size``-byte file, as clients
    should send it: streamed, no spool."""
    out.write(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
        f"stt_input\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; "
        'name="file"; filename="big.wav"\r\n\r\n'.encode()
    )
    _write_audio(out, size)
    out.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    out.flush()


def _post(base: str, path: str) -> requests.Response:
    with open(path, "rb") as fh:  # sent with its Content-Length
        return requests.post(
            f"{base}/api/v1/resemble/uploads",
            data=fh,
            headers={
                "Authorization": "Bearer demo-key",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=300,
        )


def _fresh_worker(master: subprocess.Popen[bytes], warm: Callable[[], object]) -> int:
    """A new serving worker (gunicorn's graceful reload), warmed by ``warm``.

    glibc keeps a worker's freed 8 MiB part buffers, so after one large
    upload its RSS already holds them and the next upload's peak over it
    reads near 0: each run is measured in a new worker, its idle RSS taken
    after a small upload (imports, clients, connections) and before the
    large one.
    """
    (old,) = children(master.pid)
    master.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = children(master.pid)
        if len(now) == 1 and now[0] != old:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("gunicorn did not replace its worker")
    while True:
        try:
            warm()
            return now[0]
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def upload(lines: list[str]) -> None:
    size_mb = pick(200, 50)
    size, runs = size_mb * MiB, 5
    with (
        tempfile.NamedTemporaryFile(suffix=".wav") as source,
        tempfile.NamedTemporaryFile() as body,
        tempfile.NamedTemporaryFile() as small,
        moto_server() as endpoint,
    ):
        _write_audio(source, size)
        source.flush()
        _form(body, size)
        _form(small, MiB)
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

            def warm() -> None:
                assert _post(base, small.name).status_code == 201

            def ours() -> dict[str, float]:
                worker = _fresh_worker(master, warm)
                idle = status(worker)["VmRSS"]
                reset_peak(worker)
                start = time.perf_counter()
                response = _post(base, body.name)
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
        "before, the peak reset through `/proc/<pid>/clear_refs`. Each run is served by",
        "a new worker (gunicorn's graceful reload), warmed by a 1 MiB upload: glibc keeps",
        "a worker's freed part buffers, so a worker's second large upload would start",
        "from an RSS that already holds them and its peak over it read near 0.",
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
