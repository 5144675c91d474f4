"""Mirroring 10, 100 and 200 MB assets: time and peak RSS against a raw
``requests`` -> boto3 copy, each run in a fresh process, on moto and on a real
S3 server (Ceph RGW) when it is installed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from flask_indox_media.testing import rgw_available, rgw_server, serve_wsgi

from .common import (
    CREDS,
    MiB,
    PatternStream,
    Row,
    interleave,
    judged,
    moto_process,
    pick,
    probe,
    process_cpu,
    runs_note,
    table,
)
from .common import field as column

#: The most a mirror may hold beyond the process's idle RSS, at any size.
MEMORY_GOAL_MIB = 32


class BigFile:
    """A WSGI app serving ``size`` bytes of a WAV (``/<n>`` bytes of the
    path, else ``size``), generated as it is sent."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        name = environ["PATH_INFO"].strip("/").split(".")[0]
        size = int(name) if name.isdigit() else self.size
        start_response(
            "200 OK", [("Content-Type", "audio/wav"), ("Content-Length", str(size))]
        )
        stream = PatternStream(size - 12)
        yield b"RIFF\0\0\0\0WAVE"
        while chunk := stream.read(MiB):
            yield chunk


@contextmanager
def _moto() -> Iterator[tuple[dict[str, str], int | None]]:
    with moto_process() as (endpoint, pid):
        yield (
            {
                "endpoint": endpoint,
                "access_key": CREDS["aws_access_key_id"],
                "secret_key": CREDS["aws_secret_access_key"],
            },
            pid,
        )


@contextmanager
def _rgw() -> Iterator[tuple[dict[str, str], int | None]]:
    with rgw_server(memstore_bytes=2 << 30) as rgw:
        yield (
            {
                "endpoint": rgw.endpoint,
                "access_key": rgw.access_key,
                "secret_key": rgw.secret_key,
            },
            None,  # its threads' CPU is not split by request: no CPU row
        )


def _rows(
    server: dict[str, str],
    source: str,
    sizes: list[int],
    runs: int,
    pid: int | None,
) -> list[Row]:
    """Time and peak memory per size; with the server's ``pid``, the CPU the
    server spent serving each run too."""
    client = boto3.client(
        "s3",
        endpoint_url=server["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=server["access_key"],
        aws_secret_access_key=server["secret_key"],
    )
    client.create_bucket(Bucket="bench-mirror")
    settings = {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": server["endpoint"],
        "INDOX_MEDIA_R2_BUCKET": "bench-mirror",
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": server["access_key"],
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": server["secret_key"],
        "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + source.rsplit(":", 1)[1],
        "INDOX_MEDIA_MAX_ASSET_BYTES": 300 * MiB,
    }
    ids = itertools.count()
    rows = []
    for size_mb in sizes:
        url = f"{source}/{size_mb * MiB}.wav"

        def run(which: str, url: str = url) -> dict[str, float]:
            key = f"tts/u/2026/01/01/000000-m{next(ids)}.wav"
            spec: dict[str, Any] = {"url": url, "key": key}
            before = process_cpu(pid) if pid else 0.0
            if which == "raw":
                got = probe("mirror-raw", bucket="bench-mirror", **server, **spec)
            else:
                got = probe("mirror-ours", config=settings, **spec)
            got["server_cpu"] = (process_cpu(pid) if pid else 0.0) - before
            client.delete_object(Bucket="bench-mirror", Key=key)  # keep RAM free
            return got

        got = interleave(runs, raw=lambda: run("raw"), ours=lambda: run("ours"))
        rows.append(
            judged(
                f"{size_mb} MB, time",
                column(got["ours"], "seconds"),
                column(got["raw"], "seconds"),
                "s",
                "ratio",
                at_most=1.10,
            )
        )
        if pid:
            rows.append(
                judged(
                    f"{size_mb} MB, S3 server CPU",
                    column(got["ours"], "server_cpu"),
                    column(got["raw"], "server_cpu"),
                    "s",
                    "ratio",
                )
            )
        over = [(r["peak"] - r["idle"]) / MiB for r in got["ours"]]
        raw_over = [(r["peak"] - r["idle"]) / MiB for r in got["raw"]]
        rows.append(
            judged(
                f"{size_mb} MB, peak RSS over idle",
                over,
                raw_over,
                "MiB",
                "value",
                at_most=MEMORY_GOAL_MIB,
            )
        )
    return rows


def mirror(lines: list[str]) -> None:
    runs = 5
    sizes = pick([10, 100, 200], [10, 100])
    rgw_sizes = pick([10, 100], [])
    lines += [
        "## Mirroring an asset (download from a loopback server, upload to S3)",
        "",
        "Ours: `mirror_url` (SSRF-checked download, type sniffed, conditional write:",
        "one PutObject below 16 MiB, else 8 MiB parts, 3 at a time). Baseline:",
        "`requests` streamed into boto3 `upload_fileobj` with its default transfer",
        "settings (multipart from 8 MiB). Every run is a fresh",
        "process (`benchmarks/probe.py`): its RSS once set up (app, client, connection)",
        "is the idle figure, then its peak RSS is reset (`/proc/self/clear_refs`) and",
        "read back (`VmHWM`) after the copy. Goal: time <= 1.10x the baseline's, peak",
        f"<= idle + {MEMORY_GOAL_MIB} MiB whatever the size. On moto, the CPU the",
        "server spent on each run is shown too: without a checksum declared (the R2",
        "backend sends none; boto3 declares CRC32), moto emulates S3's default",
        "full-object CRC64NVME when the upload completes (docs/performance.rst).",
        runs_note(runs),
        "",
    ]
    with serve_wsgi(BigFile(MiB)) as source:
        with _moto() as (server, pid):
            lines += ["### moto in server mode", ""]
            table(lines, _rows(server, source, sizes, runs, pid))
        if rgw_sizes and rgw_available():
            with _rgw() as (server, pid):
                lines += ["### Ceph RGW (a real S3 server, objects in RAM)", ""]
                table(lines, _rows(server, source, rgw_sizes, runs, pid))
        elif rgw_sizes:
            lines += ["Ceph RGW is not installed here: its rows were not run.", ""]
