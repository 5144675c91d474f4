"""Requests per mirrored asset and Redis round trips per response: counts, not
timings, so one run says it all."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from example_app import create_app
from flask_indox_media.mirror import download
from flask_indox_media.mirror.rewrite import rewrite
from flask_indox_media.testing import redis_server, serve_wsgi
from flask_indox_media.testing.counting import redis_round_trips, s3_requests

from .common import MiB, bucket, moto_server
from .gateway import _BigFile, _config

_AUDIO = "https://app.resemble.ai/rails/active_storage/blobs/{}/clip.wav"


def _sized(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterator[bytes]:
    size = 20 * MiB if "big" in environ["PATH_INFO"] else 100_000
    return _BigFile(size)(environ, start_response)


def _show(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


def s3_per_asset(lines: list[str]) -> None:
    with moto_server() as endpoint, serve_wsgi(_sized) as source:
        app = create_app(
            _config(endpoint, bucket(endpoint, "bench-counts"), None, source)
        )
        state = app.extensions["indox_media"]
        client = state.catalog.primary.client
        rows = []
        with app.app_context():
            for name, size in (("small", "100 kB"), ("big", "20 MiB")):
                key = f"tts/u/2026/01/01/000000-{name}.wav"
                for attempt in ("first run", "re-run (object there)"):
                    with s3_requests(client) as sent:
                        download.mirror_url(state, "r2", key, f"{source}/{name}.wav")
                    rows.append(
                        f"| {size}, {attempt} | {_show(sent)} | {sum(sent.values())} |"
                    )
    lines += [
        "## S3 requests per mirrored asset",
        "",
        "`mirror_url` against moto, requests counted by operation (botocore's",
        "`before-send`). The write is conditional (`If-None-Match: *`), so no HEAD comes",
        "first; 8 MiB parts. A poll of an asset already claimed enqueues nothing, so",
        "it makes no S3 request at all.",
        "",
        "| asset | requests by operation | total |",
        "|---|---|---:|",
        *rows,
        "",
    ]


def redis_per_response(lines: list[str]) -> None:
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            _config(
                endpoint,
                bucket(endpoint, "bench-trips"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        state = app.extensions["indox_media"]
        rows = []
        with app.test_request_context():
            rewrite(state, _clips("warm", 1), "clip", "u")  # connects
            for n in (1, 10, 100):
                body = _clips(f"n{n}-", n)
                trips = []
                for _ in range(2):
                    with redis_round_trips() as count:
                        rewrite(state, body, "clip", "u")
                    trips.append(count[0])
                rows.append(f"| {n} | {trips[0]} | {trips[1]} |")
    lines += [
        "## Redis round trips per response (response hook)",
        "",
        "Claims in one pipeline (`SET NX` each), the keys of those seen before in one",
        "`MGET`, the new assets' jobs in one MULTI/EXEC (`Queue.enqueue_many`).",
        "Counted as the connections' `send_packed_command` calls.",
        "",
        "| assets in the response | first view | seen before |",
        "|---:|---:|---:|",
        *rows,
        "",
    ]


def _clips(prefix: str, n: int) -> bytes:
    items = [
        {"uuid": f"{prefix}{j}", "audio_src": _AUDIO.format(f"{prefix}{j}")}
        for j in range(n)
    ]
    return json.dumps({"items": items}).encode()
