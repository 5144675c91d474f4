"""The gateway: response-hook latency, mirror throughput and memory, the time
from response to visible object with a real worker, and inline audio in the
request versus in a job."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import requests
from flask import Flask, g

from example_app import create_app
from flask_indox_media.mirror import download
from flask_indox_media.testing import FakeResemble, redis_server, serve_wsgi, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY
from flask_indox_media.web.relay import relay

from .common import (
    CREDS,
    MiB,
    PatternStream,
    bucket,
    moto_server,
    percentile,
)


def _config(
    endpoint: str, bucket_name: str, redis_url: str | None, upstream: str
) -> dict[str, Any]:
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": bucket_name,
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
        "INDOX_MEDIA_REDIS_URL": redis_url,
        "INDOX_MEDIA_RESEMBLE_API_KEY": DEFAULT_KEY,
        "INDOX_MEDIA_RESEMBLE_BASE_URL": upstream + "/api/",
        "INDOX_MEDIA_RESEMBLE_SYNTH_URL": upstream + "/",
        "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + upstream.rsplit(":", 1)[1],
    }


def _upstream_response(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(body)
    response.headers["Content-Type"] = "application/json"
    response.headers["Content-Length"] = str(len(body))
    return response


def _relaying(bodies: list[bytes], kind: str | None) -> Callable[[int], object]:
    return lambda i: relay(_upstream_response(bodies[i]), kind).get_data()


def _timed(app: Flask, fn: Callable[[int], object], n: int) -> list[float]:
    samples = []
    with app.test_request_context():
        g._indox_media_user = "bench-user"
        for i in range(n):
            start = time.perf_counter()
            fn(i)
            samples.append(time.perf_counter() - start)
    return samples


def hook_latency(lines: list[str]) -> None:
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            _config(
                endpoint,
                bucket(endpoint, "bench-hook"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        audio = "https://app.resemble.ai/rails/active_storage/blobs/{}/clip.wav"
        cases = {
            "no audio (voice list)": (
                "voice",
                lambda i: {
                    "items": [{"uuid": f"v{j}", "name": "x"} for j in range(20)]
                },
            ),
            "1 asset (clip), first view": (
                "clip",
                lambda i: {
                    "success": True,
                    "item": {"uuid": f"c{i}", "audio_src": audio.format(i)},
                },
            ),
            "1 asset (clip), seen before": (
                "clip",
                lambda i: {
                    "success": True,
                    "item": {"uuid": "c", "audio_src": audio.format(0)},
                },
            ),
            "100 assets (clip list), first view": (
                "clip",
                lambda i: {
                    "items": [
                        {"uuid": f"l{i}-{j}", "audio_src": audio.format(f"{i}-{j}")}
                        for j in range(100)
                    ]
                },
            ),
            "100 assets (clip list), seen before": (
                "clip",
                lambda i: {
                    "items": [
                        {"uuid": f"l-{j}", "audio_src": audio.format(j)}
                        for j in range(100)
                    ]
                },
            ),
        }
        lines += [
            "## Response hook latency (added over a plain pass-through)",
            "",
            "The same upstream JSON relayed by the gateway with the hook (detect, fix keys",
            "in Redis in one pipelined round trip, enqueue the RQ jobs of the assets seen",
            "for the first time in one more, presign, rewrite) and without it (kind `None`:",
            "bytes passed",
            "through). Real Redis; R2 on moto (presigning makes no request).",
            "",
            "| response | pass-through p50 / p99 | with hook p50 / p99 | added p50 / p99 |",
            "|---|---:|---:|---:|",
        ]
        for name, (kind, make) in cases.items():
            n = 300 if "100" not in name else 60
            bodies = [json.dumps(make(i)).encode() for i in range(n)]
            plain = _timed(app, _relaying(bodies, None), n)
            hooked = _timed(app, _relaying(bodies, kind), n)
            p = {
                q: (percentile(plain, q) * 1e3, percentile(hooked, q) * 1e3)
                for q in (50, 99)
            }
            lines.append(
                f"| {name} | {p[50][0]:.3f} / {p[99][0]:.3f} ms | {p[50][1]:.3f} / {p[99][1]:.3f} ms "
                f"| {p[50][1] - p[50][0]:.3f} / {p[99][1] - p[99][0]:.3f} ms |"
            )
        lines.append("")


class _BigFile:
    """A WSGI app serving ``size`` bytes of a WAV, generated as it is sent."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        start_response(
            "200 OK",
            [("Content-Type", "audio/wav"), ("Content-Length", str(self.size))],
        )
        stream = PatternStream(self.size - 12)
        yield b"RIFF\0\0\0\0WAVE"
        while chunk := stream.read(MiB):
            yield chunk


def mirror_throughput(lines: list[str]) -> None:
    size = 100 * MiB
    with moto_server() as endpoint, serve_wsgi(_BigFile(size)) as source:
        app = create_app(
            _config(endpoint, bucket(endpoint, "bench-mirror"), None, source)
        )
        state = app.extensions["indox_media"]
        raw = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS
        )
        raw_bucket = bucket(endpoint, "bench-mirror-raw")
        url = source + "/big.wav"

        def ours(i: int) -> None:
            with app.app_context():
                download.mirror_url(
                    state, "r2", f"tts/u/2026/01/01/000000-r{i}.wav", url
                )

        def baseline(i: int) -> None:
            with requests.get(url, stream=True, timeout=60) as response:
                raw.upload_fileobj(response.raw, raw_bucket, f"raw-{i}")

        results = {}
        for name, fn in (("raw", baseline), ("ours", ours)):
            best, peak = float("inf"), 0
            for i in range(2):
                tracemalloc.start()
                start = time.perf_counter()
                fn(i)
                best = min(best, time.perf_counter() - start)
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            results[name] = (best, peak)
    (rt, rp), (ot, op) = results["raw"], results["ours"]
    lines += [
        "## Mirroring a 100 MB asset (download from a loopback server, upload to moto)",
        "",
        "| | time | throughput | peak Python memory |",
        "|---|---:|---:|---:|",
        f"| raw: `requests` stream into boto3 `upload_fileobj` | {rt:.2f} s | {size / rt / MiB:.0f} MiB/s | {rp / MiB:.0f} MiB |",
        f"| flask-indox-media `mirror_url` (checked, sniffed) | {ot:.2f} s | {size / ot / MiB:.0f} MiB/s | {op / MiB:.0f} MiB |",
        "",
        f"Ratios (ours / raw): time **{ot / rt:.2f}**, peak memory **{op / rp:.2f}**.",
        "",
    ]


def enqueue_to_visible(lines: list[str]) -> None:
    fake = FakeResemble()
    n = 40
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        serve_wsgi(fake.app) as up,
    ):
        config = _config(endpoint, bucket(endpoint, "bench-latency"), redis_url, up)
        env = {**os.environ, "FLASK_APP": "example_app:create_app"}
        env.update({k: v for k, v in config.items() if isinstance(v, str)})
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "indox-media", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            app = create_app(config)
            state = app.extensions["indox_media"]
            client = app.test_client()
            delays = []
            time.sleep(2)  # the worker starts
            for i in range(n):
                item = client.post(
                    "/api/v1/resemble/projects/p/clips",
                    json={"voice_uuid": "v", "body": f"clip {i}"},
                    headers={"Authorization": "Bearer demo-key"},
                ).get_json()["item"]
                answered = time.perf_counter()
                key = state.catalog.primary.key_from_url(item["audio_url"])
                assert key is not None
                assert download.job_id(state.catalog.from_key("r2", key))
                while not state.catalog.primary.exists(key):
                    time.sleep(0.002)
                delays.append(time.perf_counter() - answered)
        finally:
            worker.terminate()
            worker.wait(10)
    lines += [
        "## From the response to the mirrored object (one real worker)",
        "",
        f"{n} clips created one after another through the gateway; after each response the",
        "client polls HEAD until the object exists. The worker is `flask indox-media",
        "worker` in its own process (RQ forks a work horse per job).",
        "",
        f"p50 **{percentile(delays, 50) * 1e3:.0f} ms**, p95 **{percentile(delays, 95) * 1e3:.0f} ms**, "
        f"max {max(delays) * 1e3:.0f} ms. Until then `audio_url` answers 404 and clients use",
        "`resemble_url`.",
        "",
    ]


def inline_decision(lines: list[str]) -> None:
    audio = wav_bytes(30.0)  # 30 s of 16 kHz PCM: ~0.9 MiB, ~1.3 MiB of base64
    encoded = base64.b64encode(audio).decode()
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            _config(
                endpoint,
                bucket(endpoint, "bench-inline"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        state = app.extensions["indox_media"]
        queue = state.queue.rq
        n = 30
        with app.test_request_context():
            g._indox_media_user = "bench-user"
            start = time.perf_counter()
            for _ in range(n):
                relay(
                    _upstream_response(json.dumps({"audio_content": encoded}).encode()),
                    "tts",
                ).get_data()
            in_request = (time.perf_counter() - start) / n
            start = time.perf_counter()
            for i in range(n):
                queue.enqueue(len, encoded, job_id=f"bench-inline-{i}")
            enqueue = (time.perf_counter() - start) / n
    lines += [
        "## Inline base64 audio: stored in the request, or in a job?",
        "",
        f"A {len(audio) / MiB:.1f} MiB synthesis ({len(encoded) / MiB:.1f} MiB of base64):",
        f"the whole hook, decoding and uploading it in the request, takes **{in_request * 1e3:.1f} ms**;",
        f"only enqueueing the same base64 into Redis takes {enqueue * 1e3:.1f} ms, before a worker",
        "has read it back, decoded it and uploaded it anyway.",
        "",
        "Decision: inline audio is uploaded in the request. The bytes are already in the",
        "gateway's memory, the upload to a nearby bucket costs about what a round trip",
        "through Redis would, the object exists when the response is sent (no pending",
        "window, no `resemble_url` to fall back on, since there is none), and Redis,",
        "which holds its data in memory, never carries audio.",
        "",
    ]
