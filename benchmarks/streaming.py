"""Streaming synthesis: how long the first audio byte takes from leaving
Resemble to reaching the caller, straight and through the gateway's tee."""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

from example_app import create_app
from flask_indox_media.testing import serve_wsgi, wav_bytes

from .common import bucket, field, interleave, judged, moto_server, runs_note, table

#: Runs per measurement (the median is reported).
RUNS = 11
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


def _sample(
    upstream: _PacedStream, base: str, path: str, headers: dict[str, str]
) -> Callable[[], dict[str, float]]:
    """A contender: one streaming request; milliseconds from the upstream's
    first byte to the caller's, and from the request to the caller's first byte."""

    def run() -> dict[str, float]:
        sent, arrived, size = _first_byte(base, path, headers)
        assert size == len(upstream.audio)
        return {
            "after_upstream": (arrived - upstream.first_sent[-1]) * 1e3,
            "after_request": (arrived - sent) * 1e3,
        }

    return run


def first_byte_latency(lines: list[str]) -> None:
    upstream = _PacedStream()
    path, auth = "/api/v1/resemble/tts/stream", {"Authorization": "Bearer bench-key"}
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server())
        up = stack.enter_context(serve_wsgi(upstream))
        contenders = {"straight": _sample(upstream, up, "/", {})}
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
            gw = stack.enter_context(serve_wsgi(app))
            contenders[backend] = _sample(upstream, gw, path, auth)
        results = interleave(RUNS, **contenders)
    straight = results.pop("straight")
    rows = []
    for backend in results:
        samples = results[backend]
        rows += [
            judged(
                f"through `POST /tts/stream` ({backend}), after the upstream's first byte",
                field(samples, "after_upstream"),
                field(straight, "after_upstream"),
                "ms",
                "value",
                at_most=10,
            ),
            judged(
                f"through `POST /tts/stream` ({backend}), after the request",
                field(samples, "after_request"),
                field(straight, "after_request"),
                "ms",
                "delta",
            ),
        ]
    lines += [
        "## Streaming synthesis: first byte latency",
        "",
        "From the moment Resemble's first piece leaves (a fake upstream on loopback "
        f"that streams a 0.5 s WAV in {PIECES} pieces, {PACE * 1e3:.0f} ms apart) to the "
        "moment the caller (`http.client`) has it, and from the request to the first "
        "byte; the baseline asks the upstream straight. Through the gateway "
        "(werkzeug's threaded server) the piece is relayed before it is written to "
        "the bucket, so the storage is not on the path of the first byte. Goal: the "
        "first byte reaches the caller no later than 10 ms after it leaves the "
        "upstream.",
        runs_note(RUNS),
        "",
    ]
    table(lines, rows)


def _r2(endpoint: str) -> dict[str, Any]:
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": bucket(endpoint, "bench-stream"),
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
    }
