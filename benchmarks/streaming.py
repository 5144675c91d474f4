"""Streaming synthesis: how long the first audio byte takes from leaving
Resemble to reaching the caller, straight and through the gateway's tee."""

from __future__ import annotations

import http.client
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from example_app import create_app
from flask_indox_media.testing import serve_wsgi, wav_bytes

from .common import bucket, moto_server

#: Runs per measurement (the median is reported).
RUNS = 15
#: Pieces of the upstream's stream, and the pause before each (real time).
PIECES, PACE = 8, 0.005


class _PacedStream:
    """Resemble's streaming endpoint: a short "synthesis" pause, then the WAV
    in pieces; records when the first piece leaves."""

    def __init__(self) -> None:
        self.audio = wav_bytes(0.5, rate=22050)
        self.first_sent: list[float] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "audio/wav")])
        size = -(-len(self.audio) // PIECES)
        for index, start in enumerate(range(0, len(self.audio), size)):
            time.sleep(PACE)
            if index == 0:
                self.first_sent.append(time.perf_counter())
            yield self.audio[start : start + size]


def _first_byte(
    base: str, path: str, headers: dict[str, str]
) -> tuple[float, float, int]:
    """Post a streaming request; when it was sent, when its first body byte
    arrived, and the body's length (read to the end)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"voice_uuid": "v", "text": "Hi", "data": "Hi"})
    sent = time.perf_counter()
    conn.request(
        "POST", path, body=body, headers={**headers, "Content-Type": "application/json"}
    )
    response = conn.getresponse()
    first = response.read1(65536)
    arrived = time.perf_counter()
    size = len(first) + len(response.read())
    conn.close()
    return sent, arrived, size


def _latencies(
    upstream: _PacedStream, base: str, path: str, headers: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Milliseconds from the upstream's first byte to the caller's, and from
    the request to the caller's first byte, run by run."""
    after_upstream, after_request = [], []
    for _ in range(RUNS):
        sent, arrived, size = _first_byte(base, path, headers)
        assert size == len(upstream.audio)
        after_upstream.append((arrived - upstream.first_sent[-1]) * 1e3)
        after_request.append((arrived - sent) * 1e3)
    return after_upstream, after_request


def first_byte_latency(lines: list[str]) -> None:
    upstream = _PacedStream()
    rows = []
    with moto_server() as endpoint, serve_wsgi(upstream) as up:
        rows.append(("straight from the upstream", _latencies(upstream, up, "/", {})))
        for backend, extra in (
            ("R2 on moto", _r2(endpoint)),
            ("local", {"INDOX_MEDIA_LOCAL_ROOT": tempfile.mkdtemp("-bench")}),
        ):
            app = create_app(
                {
                    "API_KEYS": {"bench-key": "bench"},
                    "INDOX_MEDIA_RESEMBLE_API_KEY": "upstream-key",
                    "INDOX_MEDIA_RESEMBLE_SYNTH_URL": up + "/",
                    **extra,
                }
            )
            with serve_wsgi(app) as gw:
                samples = _latencies(
                    upstream,
                    gw,
                    "/api/v1/resemble/tts/stream",
                    {"Authorization": "Bearer bench-key"},
                )
            rows.append((f"through `POST /tts/stream` ({backend})", samples))
    lines += [
        "## Streaming synthesis: first byte latency",
        "",
        f"From the moment Resemble's first piece leaves (a fake upstream on loopback "
        f"that streams a 0.5 s WAV in {PIECES} pieces, {PACE * 1e3:.0f} ms apart) to the "
        f"moment the caller (`http.client`) has it; median of {RUNS} runs. Through "
        "the gateway the piece is relayed before it is written to the bucket, so "
        "the storage is not on the path of the first byte.",
        "",
        "| path | after the upstream's first byte: median (min, max) "
        "| after the request: median |",
        "|---|---:|---:|",
    ]
    for name, (samples, totals) in rows:
        lines.append(
            f"| {name} | {statistics.median(samples):.2f} ms ({min(samples):.2f}, "
            f"{max(samples):.2f}) | {statistics.median(totals):.2f} ms |"
        )
    through = [statistics.median(s) for _, (s, _) in rows[1:]]
    lines += [
        "",
        f"Target: the first byte reaches the caller no later than 10 ms after it "
        f"leaves the upstream. Measured medians through the gateway: "
        f"{', '.join(f'{m:.2f} ms' for m in through)}. Not a timed test: these "
        "shared machines vary; rerun with `python -m benchmarks stream`.",
        "",
        '"After the request" through R2 is dominated by the boto3 client made '
        "for the request's thread before the request goes upstream (with the "
        "asset, so it is off the first byte's path): the werkzeug server used "
        "here runs each request on a new thread, whereas gunicorn's workers keep "
        "their threads, and their clients, from one request to the next.",
        "",
    ]


def _r2(endpoint: str) -> dict[str, Any]:
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": bucket(endpoint, "bench-stream"),
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
    }
